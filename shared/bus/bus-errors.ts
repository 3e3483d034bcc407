import { EdgeplaneError } from '../errors.js';

/**
 * Errors of the bus client, with stable codes (see shared/errors.ts):
 * - E_BUS_OVERFLOW: the message was dropped from a full outbox (counted, reported as L10)
 * - E_BUS_CLOSED: the publisher or connection was closed before the message was acked
 * - E_BUS_REJECTED: the server refused the message for good (e.g. larger than max_payload);
 *   it is dropped and counted, never retried
 * - E_BUS_SETUP: a stream or bucket exists with a configuration that cannot serve (e.g. other subjects)
 */
export type BusErrorCode = 'E_BUS_OVERFLOW' | 'E_BUS_CLOSED' | 'E_BUS_REJECTED' | 'E_BUS_SETUP';

export class BusError extends EdgeplaneError {
  declare readonly code: BusErrorCode;
  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
