import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import {
  ClosedConnectionError, ConnectionError, DrainingConnectionError, NoRespondersError, RequestError, TimeoutError,
} from '@nats-io/transport-node';
import { EdgeplaneError } from '../errors.js';
import { BusError } from './bus-errors.js';

/**
 * What an error of the NATS client (@nats-io 3.x) means, by its class and the JetStream API's
 * `err_code`, never by its message text. What each call really throws (checked against
 * nats-server 2.9.10 by test/shared/bus/nats-errors.test.ts):
 * - KV `create` of a key that holds a value, `update` or `delete` over a revision the key moved
 *   past: JetStreamApiError 10071 "wrong last sequence" (10164 where the server does not know the
 *   last sequence). There is no separate "key exists" error in 3.x.
 * - `jsm.consumers.info` of a consumer that does not exist: ConsumerNotFoundError, 10014.
 * - any request while the server is away (the client reconnecting): TimeoutError; on a closed
 *   connection: ClosedConnectionError; to a subject nobody serves: RequestError whose cause is a
 *   NoRespondersError (a JetStream API call wraps that one as JetStreamNotEnabled).
 */

/** A compare-and-set write lost: the key moved since the revision it expected (KV `create` on a held key too). */
export function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError
    && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** The consumer asked for does not exist (yet, or any more). */
export function isConsumerNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound;
}

/**
 * The bus did not answer: the request timed out, nobody served its subject, the connection is
 * closed, draining or failed, or the shuttle's own bus connection is closed. Worth a retry later
 * (a 503), unlike an answer that refused the request.
 */
export function isBusUnreachable(err: unknown): boolean {
  if (err instanceof RequestError) return err.isNoResponders() || isBusUnreachable(err.cause);
  if (err instanceof jserrors.JetStreamNotEnabled) return err.cause instanceof RequestError && err.cause.isNoResponders();
  return err instanceof TimeoutError
    || err instanceof NoRespondersError
    || err instanceof ClosedConnectionError
    || err instanceof DrainingConnectionError
    || err instanceof ConnectionError
    || (err instanceof BusError && err.code === 'E_BUS_CLOSED');
}

/** The bus is not reachable (yet): a call that needs it is answered 503 and may be retried. */
export class BusUnavailable extends EdgeplaneError {
  declare readonly code: 'E_BUS_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_BUS_UNAVAILABLE', message, options);
  }
}

/** `err` as a BusUnavailable (same message, `err` its cause) when the bus did not answer (isBusUnreachable), else `err` itself. */
export function asBusUnavailable(err: unknown): unknown {
  return isBusUnreachable(err) ? new BusUnavailable((err as Error).message, { cause: err }) : err;
}
