import t from 'tap';
import { until } from '../../support/router-harness.js';
import { pieces, rawSend } from './support/raw-client.js';
import { router, requests, HOST, lineOf, ok, useRecordingRig } from './support/recording-rig.js';

// Hostile clients against the real router process. The limits asserted here are those of the
// pinned uWebSockets.js build plus the router's own (docs/router/operations.md, Limits of the uWebSockets.js build): uWS closes a
// connection whose head is not complete within its ~10 s idle timeout, or whose body arrives
// slower than about 16 KiB/s; it handles a head over 4 KiB only when it arrives in one read; the
// router answers 431 above 16 KiB of headers and 414 above 8 KiB of request target.

useRecordingRig(t);

/** Serves ordinary requests, one after another, until `stop()`; counts successes and failures. */
function keepServing(): { stop(): Promise<{ served: number; failed: number }> } {
  let running = true;
  let served = 0;
  let failed = 0;
  const loop = (async () => {
    while (running) {
      try {
        if ((await ok('/meanwhile')) === 200) served++;
        else failed++;
      } catch {
        failed++;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { served, failed };
    },
  };
}

t.test('slow clients: a head trickled byte by byte and a body trickled forever are cut; others are served meanwhile', async (t) => {
  const others = keepServing();
  const head = `GET /loris HTTP/1.1\r\n${HOST}X-Request-Id: loris\r\nX-Pad: ${'p'.repeat(200)}\r\n\r\n`;
  const dripHead = `POST /drip HTTP/1.1\r\n${HOST}X-Request-Id: drip\r\nContent-Length: 1000000\r\n\r\n`;
  const [loris, drip] = await Promise.all([
    rawSend(router.ports.http, pieces(head, 1), { gapMs: 250, timeoutMs: 45000 }),
    rawSend(router.ports.http, [dripHead, ...pieces('d'.repeat(400), 1)], { gapMs: 100, timeoutMs: 45000 }),
  ]);
  const { served, failed } = await others.stop();
  t.comment(`slowloris dropped after ${loris.ms} ms, drip cut after ${drip.ms} ms; ${served} other requests served meanwhile`);

  t.ok(loris.closed, 'slowloris: the router closed the connection before the head was complete');
  t.equal(loris.status, 0, 'slowloris: no status');
  t.ok(loris.ms < head.length * 250, 'slowloris: before the whole head had been sent');
  t.notOk(requests.has('loris'), 'slowloris: nothing reached the dyno');

  t.ok(drip.closed, 'drip: the connection was closed');
  t.equal(drip.status, 0, 'drip: no status (uWS closes the socket)');
  t.match(await lineOf('drip'), /^at=error code=H27 desc="Client Request Interrupted" method=POST path=\/drip .* status=499 /, 'drip: logged H27/499');
  await until(() => requests.get('drip')?.aborted === true, 10000, 'the dyno to see the request go away');
  t.notOk(requests.get('drip')!.completed, 'drip: the dyno never got the body whole');

  t.ok(served > 0, 'other clients were served');
  t.equal(failed, 0, 'none failed');
});

t.test('oversized header values: 431 above 16 KiB when uWS hands the head over, else the connection closes', async (t) => {
  const head = (size: number, id: string): string => `GET /big HTTP/1.1\r\n${HOST}X-Request-Id: ${id}\r\nX-Big: ${'b'.repeat(size)}\r\n\r\n`;
  const small = await rawSend(router.ports.http, head(4096, 'hv-4k'));
  t.equal(small.status, 200, '4 KiB value: served');
  t.equal(requests.get('hv-4k')?.headers['x-big']?.length, 4096, 'and forwarded whole');
  t.equal((await rawSend(router.ports.http, head(12 * 1024, 'hv-12k'))).status, 200, '12 KiB in one read: served');
  // (48 KiB: still one loopback segment, so one read)
  for (const [size, name] of [[16 * 1024, '16 KiB'], [48 * 1024, '48 KiB']] as const) {
    const got = await rawSend(router.ports.http, head(size, `hv-${name}`), { untilClose: true, timeoutMs: 20000 });
    // one write, usually one read for uWS (431); a loaded machine may split it (closed, no status)
    t.ok(got.status === 431 || got.status === 0, `${name}: 431, or closed by uWS (status ${got.status})`);
    if (got.status === 431) t.match(got.text, /\r\n\r\nRequest headers too large\n$/);
    t.ok(got.closed, `${name}: then closed`);
  }
  const huge = await rawSend(router.ports.http, head(1 << 20, 'hv-1m'), { timeoutMs: 20000 });
  t.equal(huge.status, 0, '1 MiB: no status');
  t.ok(huge.closed, '1 MiB: uWS closes (resets) the connection');
  // a head over 4 KiB arriving in several reads is more than uWS keeps between reads
  const split = await rawSend(router.ports.http, pieces(head(8 * 1024, 'hv-split'), 1000), { gapMs: 300, timeoutMs: 20000 });
  t.equal(split.status, 0, '8 KiB in pieces: no status');
  t.ok(split.closed, '8 KiB in pieces: closed');
  const splitSmall = await rawSend(router.ports.http, pieces(head(3 * 1024, 'hv-split-3k'), 1000), { gapMs: 150 });
  t.equal(splitSmall.status, 200, '3 KiB in pieces: served');
  for (const id of ['hv-16 KiB', 'hv-48 KiB', 'hv-1m', 'hv-split']) t.notOk(requests.has(id), `${id}: nothing reached the dyno`);
  t.equal(await ok(), 200, 'still serving');
});

t.test('oversized URIs: 414 above 8 KiB when uWS hands the head over, else the connection closes', async (t) => {
  const head = (size: number, id: string): string => `GET /${'u'.repeat(size)} HTTP/1.1\r\n${HOST}X-Request-Id: ${id}\r\n\r\n`;
  t.equal((await rawSend(router.ports.http, head(4096, 'uri-4k'))).status, 200, '4 KiB: served');
  t.equal(requests.get('uri-4k')?.url.length, 4097, 'and forwarded whole');
  for (const [size, name] of [[8192, '8 KiB'], [16 * 1024, '16 KiB'], [48 * 1024, '48 KiB']] as const) {
    const got = await rawSend(router.ports.http, head(size, `uri-${name}`), { untilClose: true, timeoutMs: 20000 });
    // one write, usually one read for uWS (414); a loaded machine may split it (closed, no status)
    if (size === 8192) t.equal(got.status, 414, `${name}: 414`);
    else t.ok(got.status === 414 || got.status === 0, `${name}: 414, or closed by uWS (status ${got.status})`);
    t.ok(got.closed, `${name}: then closed`);
    t.notOk(requests.has(`uri-${name}`));
  }
  const query = await rawSend(router.ports.http, `GET /q?${'q'.repeat(9000)} HTTP/1.1\r\n${HOST}\r\n`, { untilClose: true, timeoutMs: 20000 });
  t.equal(query.status, 414, 'the query counts');
  const huge = await rawSend(router.ports.http, head(1 << 20, 'uri-1m'), { timeoutMs: 20000 });
  t.equal(huge.status, 0, '1 MiB: no status');
  t.ok(huge.closed, '1 MiB: closed');
  t.equal(await ok(), 200, 'still serving');
});

t.test('header count: 48 header lines pass; a 49th makes this uWS build drop the request', async (t) => {
  const head = (total: number, id: string): string => {
    let h = `GET /many HTTP/1.1\r\n${HOST}X-Request-Id: ${id}\r\n`;
    for (let i = 2; i < total; i++) h += `X-H${i}: v\r\n`;
    return `${h}\r\n`;
  };
  const fine = await rawSend(router.ports.http, head(48, 'count-48'));
  t.equal(fine.status, 200, '48 lines: served');
  const over = await rawSend(router.ports.http, head(49, 'count-49'), { timeoutMs: 45000 });
  t.equal(over.status, 0, '49 lines: no status');
  t.ok(over.closed, '49 lines: closed (at the idle timeout)');
  t.notOk(requests.has('count-49'));
});

