// Runs recordOf (the bus ingest's decoding) on the messages in workerData inside a worker thread
// (bus-message-decode.test.ts gives it a small heap): posts each message's reason, or the app of
// a record.
import { parentPort, workerData } from 'node:worker_threads';
import { recordOf } from '../../../../logshuttle/bus/message-delivery.js';

const results = (workerData as Uint8Array[]).map((m) => {
  const r = recordOf(m);
  return typeof r === 'string' ? r : r.app;
});
parentPort!.postMessage(results);
