/** Longest app name accepted (syslog HOSTNAME is at most 255 characters). */
export const MAX_APP_NAME = 255;

const BAD_CHAR = /[\s\x00-\x1f\x7f/]/;

/**
 * Returns why `app` cannot be an app name, or null. An app name is 1 to 255 characters without
 * whitespace, control characters or `/` (it is a field of the tail line and a URL segment).
 */
export function appNameProblem(app: string): string | null {
  if (app.length === 0) return 'is empty';
  if (app.length > MAX_APP_NAME) return `is longer than ${MAX_APP_NAME} characters`;
  if (BAD_CHAR.test(app)) return 'contains whitespace, a control character or /';
  return null;
}
