import { randomFillSync } from 'node:crypto';

/** A client's X-Request-Id kept as it is (DESIGN.md): 1 to 200 of `A-Z a-z 0-9 . _ : + / = -`. */
const REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,200}$/;

/** random bytes for this many ids at a time (crypto-random, as randomUUID's own batch) */
const BATCH = 256;
const random = Buffer.allocUnsafeSlow(16 * BATCH);
let next = BATCH;
/** the id's 36 characters, written in place: one flat string per id (randomUUID concatenates ~20 pieces) */
const text = Buffer.allocUnsafeSlow(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** where each of the 16 bytes goes in `xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx` */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
text[8] = text[13] = text[18] = text[23] = 0x2d; // '-'

/** Buffer#latin1Slice (untyped in @types/node) */
function latin1(b: Buffer, from: number, to: number): string {
  return (b as unknown as { latin1Slice(from: number, to: number): string }).latin1Slice(from, to);
}

/** A random (version 4) UUID, as crypto.randomUUID() makes it, from a batch of random bytes. */
export function newRequestId(): string {
  if (next === BATCH) {
    randomFillSync(random);
    next = 0;
  }
  const o = 16 * next++;
  random[o + 6] = (random[o + 6] & 0x0f) | 0x40; // version 4
  random[o + 8] = (random[o + 8] & 0x3f) | 0x80; // variant 10
  for (let i = 0; i < 16; i++) {
    const b = random[o + i];
    const at = AT[i];
    text[at] = HEX[b >> 4];
    text[at + 1] = HEX[b & 15];
  }
  return latin1(text, 0, 36);
}

/** The request id of a request: the client's X-Request-Id when acceptable, else a new UUID. */
export function acceptRequestId(clientValue: string): string {
  return clientValue.length > 0 && REQUEST_ID.test(clientValue) ? clientValue : newRequestId();
}

/** The router's Via entry: appended to what the dyno gets, written on every response. */
export const VIA = '1.1 edgeplane';
