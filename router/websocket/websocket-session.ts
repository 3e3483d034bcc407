import type { WebSocket as ClientSocket } from 'uWebSockets.js';
import { WebSocket as DynoSocket } from 'ws';
import { clientCloseCode, closeCodeForDynoError, isSendableCode, reasonText } from './close-codes.js';
import { HIGH_WATER, LOW_WATER, MAX_TO_DYNO } from './websocket-limits.js';
import type { WebSocketHandshake } from './websocket-handshake.js';

/** uWS userData (uWS copies the object's own properties: a class instance would lose its methods). */
export interface SessionRef {
  session: WebSocketSession;
}

/**
 * One open WebSocket: the client side (uWS) and the dyno side (`ws`), from the dyno's 101 on.
 * Frames flow both ways until either side closes; the close code and reason propagate.
 *
 * Backpressure:
 * - dyno -> client: when uWS buffers more than HIGH_WATER for the client, the dyno socket is
 *   paused (`ws.pause()`: the router stops reading it, so TCP pushes back on the dyno) and
 *   resumed from uWS `drain` once below LOW_WATER. Nothing is dropped: maxBackpressure is far
 *   above HIGH_WATER + one message.
 * - client -> dyno: uWS has no per-socket read pause for WebSockets, so the router cannot stop
 *   reading a client. Frames go to the dyno socket at once; if the dyno falls more than
 *   MAX_TO_DYNO bytes behind, the client is closed with 1013 (Try Again Later) rather than
 *   buffering without bound. Messages are limited to MAX_MESSAGE both ways (1009 beyond).
 *
 * Pings go end to end: a dyno that checks liveness with pings sees the client's own pongs.
 * The handshake (its request context) counts the bytes and writes the access line at the end.
 */
export class WebSocketSession {
  readonly handshake: WebSocketHandshake;
  readonly upstream: DynoSocket;
  client: ClientSocket<SessionRef> | null = null;
  /** dyno frames that arrived before the client's open */
  private early: [Buffer, boolean][] | null = [];
  paused = false;
  /** the router has closed (or is closing) the dyno side, or the dyno has */
  private upstreamClosed = false;
  private clientClosed = false;
  /** the close code a dyno error after the upgrade calls for (0: none) */
  private errorClose = 0;
  private pendingCloseCode = 1000;
  private pendingCloseReason = '';

  constructor(handshake: WebSocketHandshake, upstream: DynoSocket) {
    this.handshake = handshake;
    this.upstream = upstream;
    upstream.removeAllListeners('error');
    // after the upgrade an error is followed by 'close': remember what to tell the client
    upstream.on('error', (err: Error) => {
      this.errorClose = closeCodeForDynoError(err);
    });
    upstream.on('message', (data: Buffer, isBinary: boolean) => this.toClient(data, isBinary));
    upstream.on('ping', (data: Buffer) => this.pingClient(data));
    upstream.on('close', (code: number, reason: Buffer) => this.onUpstreamClose(code, reason));
  }

  /** uWS open. */
  opened(ws: ClientSocket<SessionRef>): void {
    this.client = ws;
    const early = this.early;
    this.early = null;
    if (early !== null) for (const [data, binary] of early) this.toClient(data, binary);
    if (this.upstreamClosed) {
      this.endClient(this.pendingCloseCode, this.pendingCloseReason);
      return;
    }
    if (!this.paused) this.upstream.resume();
  }

  /** A dyno frame to the client, pausing the dyno while the client is backpressured. */
  private toClient(data: Buffer, isBinary: boolean): void {
    const ws = this.client;
    if (ws === null) {
      if (this.early !== null) this.early.push([data, isBinary]);
      return;
    }
    if (this.clientClosed) return;
    this.handshake.bytes += data.length;
    const r = ws.send(data, isBinary, false);
    if (r === 2) {
      // cannot happen with the pause below (MAX_BACKPRESSURE is far above HIGH_WATER + a message)
      this.endClient(1011, 'backpressure limit');
      return;
    }
    if (!this.paused && ws.getBufferedAmount() > HIGH_WATER) {
      this.paused = true;
      this.upstream.pause();
    }
  }

  /** A dyno ping goes to the client (its pong comes back through `pongFromClient`). */
  private pingClient(data: Buffer): void {
    const ws = this.client;
    if (ws !== null && !this.clientClosed) ws.ping(data);
    else if (!this.upstreamClosed) this.upstream.pong(data); // not open yet: answer for it
  }

  /** uWS pong: the client answered a (dyno's) ping. */
  pongFromClient(message: ArrayBuffer): void {
    const up = this.upstream;
    if (!this.upstreamClosed && up.readyState === DynoSocket.OPEN) up.pong(Buffer.from(new Uint8Array(message)));
  }

  /** uWS drain: the client took some of its buffer. */
  drained(ws: ClientSocket<SessionRef>): void {
    if (this.paused && ws.getBufferedAmount() < LOW_WATER) {
      this.paused = false;
      if (!this.upstreamClosed) this.upstream.resume();
    }
  }

  /** uWS message: a client frame to the dyno. */
  fromClient(message: ArrayBuffer, isBinary: boolean): void {
    const up = this.upstream;
    if (this.upstreamClosed || up.readyState !== DynoSocket.OPEN) return;
    if (up.bufferedAmount > MAX_TO_DYNO) {
      this.endClient(1013, 'dyno too slow');
      return;
    }
    // uWS neuters the ArrayBuffer after this callback, and ws masks in place: copy
    up.send(Buffer.from(new Uint8Array(message)), { binary: isBinary, compress: false });
  }

  /** uWS close: the client's side is over (its frame, a cut, or our own end()). */
  clientClose(code: number, message: ArrayBuffer): void {
    this.clientClosed = true;
    this.client = null;
    const up = this.upstream;
    if (!this.upstreamClosed) {
      this.upstreamClosed = true;
      if (this.paused) up.resume();
      if (code === 1005) up.close();
      else if (isSendableCode(code)) up.close(code, reasonText(message));
      else up.close(1001, 'client went away'); // 1006: the client vanished
      // the dyno gets its closing handshake; the session is over for the client
    }
    this.handshake.sessionEnded();
  }

  /** The dyno's side closed: close the client with the same code. */
  private onUpstreamClose(code: number, reason: Buffer): void {
    const alreadyClosing = this.upstreamClosed;
    this.upstreamClosed = true;
    if (this.client === null && !this.clientClosed) {
      // upgraded but uWS open not run yet: close right after open
      this.pendingCloseCode = clientCloseCode(code, this.errorClose);
      this.pendingCloseReason = reasonText(reason);
      return;
    }
    if (alreadyClosing || this.clientClosed) return;
    this.endClient(clientCloseCode(code, this.errorClose), reasonText(reason));
  }

  private endClient(code: number, reason: string): void {
    const ws = this.client;
    if (ws === null || this.clientClosed) return;
    ws.end(code, reason); // runs clientClose synchronously
  }

  /** Graceful stop or dyno removed: close both sides with `code`. */
  end(code: number, reason: string): void {
    if (this.client !== null) {
      this.endClient(code, reason);
      return;
    }
    // upgraded, uWS open not run yet: the client is closed with `code` as soon as it opens
    if (this.clientClosed || this.upstreamClosed) return;
    this.upstreamClosed = true;
    this.pendingCloseCode = code;
    this.pendingCloseReason = reason;
    this.upstream.close(isSendableCode(code) ? code : 1001, reason);
  }
}
