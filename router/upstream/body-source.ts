import { Readable } from 'node:stream';
import type { HttpResponse } from 'uWebSockets.js';

const HOLD_BYTES = 256 * 1024;
/**
 * uWebSockets.js 20.30 can report the end of a chunked body early (seen from about 3.8 MiB on,
 * sooner on a loaded machine) when the client's size lines and data arrive in separate packets,
 * then abort the connection moments later (its chunked parser fails on the rest). Past this
 * size, the end of a chunked body is held for CHUNKED_END_GRACE_MS so that the abort, when it
 * comes, cancels the upload: the dyno never gets a short body as a whole one.
 */
const CHUNKED_SUSPECT_BYTES = 1024 * 1024;
const CHUNKED_END_GRACE_MS = 250;

/**
 * A request body arriving from uWS (onData), handed to the dyno as a stream with backpressure:
 * uWS is paused while the consumer is full. Each upstream attempt gets its own Readable; a
 * retry is possible only while no byte has been handed to an attempt (`touched`).
 */
export class BodySource {
  private readonly res: HttpResponse;
  private readonly limit: number;
  private readonly onTooLarge: () => void;
  private chunks: Buffer[] = [];
  private held = 0;
  private ended = false;
  private paused = false;
  private dead = false;
  private consumer: Readable | null = null;
  /** the current consumer has asked for data: undici is writing this attempt's body */
  private reading = false;
  received = 0;
  touched = false;
  private readonly chunked: boolean;
  /** uWS has handed over the body's last byte (isLast) */
  private lastSeen = false;
  /** set once the rest of the body is read only to be dropped (an answer without a dyno, lingering) */
  private discard: ((bytes: number, isLast: boolean) => void) | null = null;
  /** collect(): the cap, and who waits for the whole body (null when nobody does) */
  private collectCap = 0;
  private collected: ((r: Buffer | 'too_large' | 'gone') => void) | null = null;

  constructor(res: HttpResponse, limit: number, onTooLarge: () => void, chunked = false) {
    this.res = res;
    this.limit = limit;
    this.onTooLarge = onTooLarge;
    this.chunked = chunked;
    res.onData(this.onData);
  }

  private readonly onData = (ab: ArrayBuffer, isLast: boolean): void => {
    if (this.discard !== null) {
      this.discard(ab.byteLength, isLast);
      return;
    }
    if (isLast) this.lastSeen = true;
    if (this.dead) return;
    // uWS reuses the memory after this callback: copy
    const chunk = Buffer.from(new Uint8Array(ab));
    this.received += chunk.length;
    if (this.received > this.limit) {
      this.dead = true;
      this.settleCollect('gone');
      this.onTooLarge();
      return;
    }
    if (isLast && this.chunked && this.received >= CHUNKED_SUSPECT_BYTES) {
      // see CHUNKED_END_GRACE_MS: take the bytes now, the end only if no abort follows
      this.take(chunk, false);
      setTimeout(this.endAfterGrace, CHUNKED_END_GRACE_MS);
      return;
    }
    this.take(chunk, isLast);
  };

  private readonly endAfterGrace = (): void => {
    if (this.dead) return;
    this.take(Buffer.alloc(0), true);
  };

  /** Hands bytes (and the end) to the attempt writing the body, or holds them. */
  private take(chunk: Buffer, isLast: boolean): void {
    if (isLast) this.ended = true;
    const c = this.consumer;
    // only an attempt that is writing its body gets bytes directly; until then (connecting) they
    // are held, so that a never-sent attempt leaves the whole body for the next one
    if (c !== null && this.reading) {
      this.touched = true;
      if (chunk.length > 0 && !c.push(chunk)) this.pause();
      if (isLast) c.push(null);
      return;
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.held += chunk.length;
    }
    if (this.collected !== null) {
      if (this.held > this.collectCap) this.settleCollect('too_large');
      else if (this.ended) this.settleCollect(this.whole());
      return;
    }
    if (this.held > HOLD_BYTES) this.pause();
  }

  /**
   * Holds the whole body, up to `cap` bytes, before any attempt gets a byte of it (the filters'
   * bounded copy: openapi `validate_body`), and hands it over: one Buffer, which is also what
   * the next attempt then sends (nothing is copied twice, nothing is sent before the verdict).
   * `too_large` as soon as more than `cap` bytes arrived; `gone` when the body was given up
   * (client gone, limits.maxBodyBytes).
   */
  collect(cap: number, done: (r: Buffer | 'too_large' | 'gone') => void): void {
    if (this.dead) return done('gone');
    if (this.held > cap || this.touched) return done(this.touched ? 'gone' : 'too_large');
    if (this.ended) return done(this.whole());
    this.collectCap = cap;
    this.collected = done;
    // paused at HOLD_BYTES: the cap governs now
    this.resume();
  }

  private whole(): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = all.length > 0 ? [all] : [];
    return all;
  }

  private settleCollect(r: Buffer | 'too_large' | 'gone'): void {
    const done = this.collected;
    this.collected = null;
    if (r === 'too_large') this.pause();
    done?.(r);
  }

  private pause(): void {
    if (!this.paused && !this.dead) {
      this.paused = true;
      this.res.pause();
    }
  }

  private resume(): void {
    if (this.paused && !this.dead) {
      this.paused = false;
      this.res.resume();
    }
  }

  /** A fresh stream for one upstream attempt. */
  stream(): Readable {
    const readable = new Readable({
      read: () => {
        if (this.consumer !== readable) return; // an attempt given up on
        this.reading = true;
        if (this.chunks.length > 0) {
          const chunks = this.chunks;
          this.chunks = [];
          this.held = 0;
          this.touched = true;
          for (const c of chunks) readable.push(c);
        }
        if (this.ended) readable.push(null);
        else this.resume();
      },
    });
    this.consumer = readable;
    this.reading = false;
    return readable;
  }

  /**
   * The request is answered without its body (a refusal): nothing more is held or handed on; the
   * rest of the body goes to `discard` (counted and dropped, router/front/lingering-close.ts),
   * uWS reading again if it was paused. True when the body's end has already arrived. (uWS's
   * onData handler stays this one: replacing it from inside onData, where a limit is found,
   * would free the handler that is running.)
   */
  discardRest(discard: (bytes: number, isLast: boolean) => void): boolean {
    this.close();
    this.discard = discard;
    if (this.paused) {
      this.paused = false;
      this.res.resume();
    }
    return this.lastSeen;
  }

  /** Stop taking data (the response is over or the client is gone). */
  close(): void {
    this.dead = true;
    this.chunks = [];
    this.consumer = null;
    this.reading = false;
    this.settleCollect('gone');
  }
}
