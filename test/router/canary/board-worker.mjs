// A router worker stand-in for the canary tests: builds a CanaryView from the board description
// the test posts (as router workers do on every config), runs simulated requests through
// pick()/record(), and posts abort events to the parent (as a worker posts them to main).
import { parentPort } from 'node:worker_threads';
import { CanaryView } from '../../../dist/router/canary/canary-view.js';
import { formatCanaryAbortLine } from '../../../dist/router/canary/abort-line.js';

/** mulberry32: the simulated dynos' error draws. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let view;

parentPort.on('message', (msg) => {
  if (msg.type === 'config') {
    view = new CanaryView(msg.description, {
      seed: msg.seed,
      onAbort: (event) => parentPort.postMessage({ type: 'abort', event, line: formatCanaryAbortLine(event) }),
    });
    parentPort.postMessage({ type: 'configured', generation: view.generation });
    return;
  }
  if (msg.type === 'run') {
    // requests of app msg.app: canary/production answer 500 with the given probabilities
    const slot = view.slotOf(msg.app);
    const rand = prng(msg.seed);
    const tally = { picked: 0, canary: { requests: 0, errors: 0 }, production: { requests: 0, errors: 0 }, abortsWon: 0 };
    for (let i = 0; i < msg.requests; i++) {
      const toCanary = slot >= 0 && view.pick(slot);
      if (toCanary) tally.picked++;
      const side = toCanary ? 'canary' : 'production';
      const status = rand() < (toCanary ? msg.canaryRate : msg.productionRate) ? (msg.errorStatus ?? 500) : 200;
      if (slot >= 0 && !view.aborted(slot)) {
        tally[side].requests++;
        if (status >= 500) tally[side].errors++;
      }
      if (slot >= 0 && view.record(slot, side, status)) tally.abortsWon++;
    }
    parentPort.postMessage({ type: 'ran', tally });
  }
});
