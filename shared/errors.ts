import type { ErrorCode } from './codes.js';

/**
 * Errors as classes with stable codes. A code never changes once published: operators grep
 * for it, tests assert it. Every code is one of the registry's (shared/codes.ts), with its
 * meaning documented in docs/codes.md.
 */
export class EdgeplaneError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration document (file, PUT body) failed validation; `problems` names every field. */
export class ConfigError extends EdgeplaneError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], source = 'config') {
    super('E_CONFIG', `${source} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.problems = Object.freeze([...problems]);
  }
}

/** A listener could not bind its address (the port is taken, the address is not this host's). */
export class ListenError extends EdgeplaneError {
  constructor(host: string, port: number, listener?: string) {
    super('E_LISTEN', `cannot listen on ${host}:${port}${listener === undefined ? '' : ` (${listener})`}`);
  }
}

/** Bad command-line arguments. */
export class UsageError extends EdgeplaneError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}
