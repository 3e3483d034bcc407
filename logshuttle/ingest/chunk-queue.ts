import type { Socket } from 'node:net';

/** Chunks queued before the socket is paused until the reader catches up. */
const HIGH_WATER_CHUNKS = 64;

/**
 * The bytes a socket delivers as an async iterable that never loses what was read: chunks
 * already received are all yielded even when the socket is destroyed meanwhile (a stop whose
 * grace period ran out), then the iteration ends. Paused while the reader is behind.
 */
export function socketChunks(socket: Socket): AsyncIterable<Buffer> {
  const queue: Buffer[] = [];
  let head = 0;
  let ended = false;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  socket.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length - head >= HIGH_WATER_CHUNKS) socket.pause();
    notify();
  });
  const end = (): void => {
    ended = true;
    notify();
  };
  socket.on('end', end);
  socket.on('close', end);
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (head < queue.length) {
          const chunk = queue[head];
          queue[head++] = undefined as unknown as Buffer;
          if (head === queue.length) {
            queue.length = 0;
            head = 0;
            if (!ended && socket.isPaused()) socket.resume();
          }
          yield chunk;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
