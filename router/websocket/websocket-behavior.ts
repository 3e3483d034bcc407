import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, us_socket_context_t, WebSocketBehavior } from 'uWebSockets.js';
import { MAX_BACKPRESSURE, MAX_MESSAGE } from './websocket-limits.js';
import type { SessionRef } from './websocket-session.js';

/** The front's handler for an upgrade request (router/front/request-front.ts). */
export type UpgradeHandler = (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => void;

/**
 * The uWS WebSocket route of a listener: upgrade requests (those with Sec-WebSocket-Key) go to
 * the front like any request; once upgraded, every client event goes to its session.
 */
export function webSocketBehavior(upgrade: UpgradeHandler): WebSocketBehavior<SessionRef> {
  return {
    compression: uWS.DISABLED,
    maxPayloadLength: MAX_MESSAGE,
    maxBackpressure: MAX_BACKPRESSURE,
    closeOnBackpressureLimit: 0,
    idleTimeout: 0,
    sendPingsAutomatically: false,
    upgrade,
    open: (ws) => {
      ws.getUserData().session.opened(ws);
    },
    message: (ws, message, isBinary) => {
      ws.getUserData().session.fromClient(message, isBinary);
    },
    drain: (ws) => {
      ws.getUserData().session.drained(ws);
    },
    pong: (ws, message) => {
      ws.getUserData().session.pongFromClient(message);
    },
    close: (ws, code, message) => {
      ws.getUserData().session.clientClose(code, message);
    },
  };
}
