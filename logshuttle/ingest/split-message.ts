/** Longest message (UTF-8 bytes) kept as one line; longer ones are split (DESIGN.md). */
export const MAX_LINE_BYTES = 10_000;

/**
 * Splits `message` into pieces of at most `max` UTF-8 bytes on character boundaries, nothing
 * added or removed (the pieces concatenate to the message). Short messages come back as is.
 */
export function splitMessage(message: string, max = MAX_LINE_BYTES): string[] {
  // a UTF-16 code unit is at most 3 UTF-8 bytes: cheap early exit
  if (message.length * 3 <= max || Buffer.byteLength(message, 'utf8') <= max) return [message];
  const bytes = Buffer.from(message, 'utf8');
  const pieces: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + max, bytes.length);
    // back off while the byte at `end` continues a character (10xxxxxx)
    if (end < bytes.length) while (end > start && (bytes[end] & 0xc0) === 0x80) end--;
    if (end === start) end = Math.min(start + max, bytes.length); // cannot happen with valid UTF-8
    pieces.push(bytes.toString('utf8', start, end));
    start = end;
  }
  return pieces;
}
