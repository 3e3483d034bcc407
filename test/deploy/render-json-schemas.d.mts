/** Types of render-json-schemas.mjs (a plain node script so it runs without a TS loader). */
export declare const SCHEMA_FILES: { readonly router: string; readonly logshuttle: string };
/** file (relative to the repository) -> the schema text it must hold */
export declare function renderSchemas(): Promise<Record<string, string>>;
