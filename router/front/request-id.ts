import { randomUUID } from 'node:crypto';

/** A client's X-Request-Id kept as it is (DESIGN.md): 1 to 200 of `A-Z a-z 0-9 . _ : + / = -`. */
const REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,200}$/;

/** The request id of a request: the client's X-Request-Id when acceptable, else a new UUID. */
export function acceptRequestId(clientValue: string): string {
  return REQUEST_ID.test(clientValue) ? clientValue : randomUUID();
}

/** The router's Via entry: appended to what the dyno gets, written on every response. */
export const VIA = '1.1 edgeplane';
