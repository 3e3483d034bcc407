import { LATENCY_BUCKET_COUNT } from './latency-histogram.js';

/**
 * What a worker thread sends the main thread once a second for the dashboard (GET /stats):
 * the requests each app finished since the last second, and the dynos it holds out of rotation
 * now. Per app, SECOND_STRIDE Uint32 counters in `counts`: requests by status class (1xx .. 5xx)
 * then the latency histogram (latency-histogram.ts). Only apps with requests in that second
 * are sent.
 */
export const CLASS_COUNT = 5;
export const SECOND_STRIDE = CLASS_COUNT + LATENCY_BUCKET_COUNT;

export interface EjectedDyno {
  readonly address: string;
  /** ms until the dyno is back in this worker's rotation */
  readonly forMs: number;
}

export interface WorkerSecond {
  /** apps with requests in the second, in the order of their counters in `counts` */
  readonly apps: readonly string[];
  readonly counts: Uint32Array;
  readonly ejected: readonly EjectedDyno[];
  readonly inFlight: number;
  readonly websockets: number;
}
