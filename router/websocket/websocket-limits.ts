/** Largest message accepted either way (uWS maxPayloadLength, ws maxPayload). */
export const MAX_MESSAGE = 16 * 1024 * 1024;
/** Pause the dyno once this much waits for the client in uWS. */
export const HIGH_WATER = 1024 * 1024;
/** Resume the dyno once the client's buffer is below this. */
export const LOW_WATER = 256 * 1024;
/** The dyno may fall this far behind the client before the client is closed with 1013. */
export const MAX_TO_DYNO = 32 * 1024 * 1024;
/** uWS drops sends beyond this; the pause at HIGH_WATER keeps the buffer far below it. */
export const MAX_BACKPRESSURE = HIGH_WATER + 4 * MAX_MESSAGE;
