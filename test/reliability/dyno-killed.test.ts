// Faults under load: a dyno SIGKILLed while two dynos serve a steady mix of GETs and POSTs.
import t from 'tap';
import { baseConfig, until, writeConfig } from '../support/router-harness.js';
import { startRouterProcess } from './support/router-process.js';
import { startChildDyno } from './support/child-dyno.js';
import { LoadLoop, byStatus, type Outcome } from './support/load-loop.js';
import { linesById } from './support/access-lines.js';
import { report } from './support/report.js';

const HOST = 'api.example.io';
const H13_BODY = 'Connection closed without response (H13)\n';

t.test('a dyno killed mid-load: GETs never fail, in-flight POSTs get 503 H13 (logged), then the live dyno serves', async (t) => {
  // each answer waits 20 ms, so requests are in flight on the dyno when it dies
  const a = await startChildDyno('a', { delayMs: 20 });
  const b = await startChildDyno('b', { delayMs: 20 });
  t.teardown(() => Promise.all([a.kill(), b.kill()]));
  const router = await startRouterProcess(t, writeConfig(baseConfig({ workers: 2, apps: { api: { dynos: [a.address, b.address] } } })));

  const origin = `http://127.0.0.1:${router.ports.http}`;
  const gets = new LoadLoop({ origin, host: HOST, concurrency: 8, idPrefix: 'get' }).start();
  t.teardown(() => gets.stop());
  const posts = new LoadLoop({ origin, host: HOST, concurrency: 4, idPrefix: 'post', method: 'POST', body: Buffer.alloc(64 * 1024, 'x') }).start();
  t.teardown(() => posts.stop());

  // both dynos carry traffic before the kill
  await until(() => router.lines.filter((l) => l.includes(`dyno=${b.address} `) && l.includes('status=200')).length >= 50, 30000, 'dyno b serving');
  const killAt = Date.now();
  await b.kill('SIGKILL');
  const afterKill = (o: Outcome): boolean => o.startedAt > killAt;
  await until(() => gets.outcomes.filter(afterKill).length >= 200 && posts.outcomes.filter(afterKill).length >= 30, 45000, 'load after the kill');
  const getOut = await gets.stop();
  const postOut = await posts.stop();

  // afterwards every request goes to the live dyno
  const tailLoad = new LoadLoop({ origin, host: HOST, concurrency: 4, idPrefix: 'after' }).start();
  t.teardown(() => tailLoad.stop());
  await until(() => tailLoad.outcomes.length >= 40, 30000, 'requests after the load');
  const afterOut = await tailLoad.stop();

  const all = [...getOut, ...postOut, ...afterOut];
  await until(() => router.lines.length >= all.length, 20000, 'an access line for every request');
  const lines = linesById(router.lines);

  const failedGets = getOut.filter((o) => o.status !== 200);
  t.same(failedGets.map((o) => `${o.id} ${o.status} ${o.error ?? ''} ${o.body.trim()}`), [], 'no GET failed (retried on the live dyno)');
  const badPosts = postOut.filter((o) => o.status !== 200 && !(o.status === 503 && o.body === H13_BODY));
  t.same(badPosts.map((o) => `${o.id} ${o.status} ${o.error ?? ''} ${o.body.trim()}`), [], 'POSTs answered 200, or 503 H13');
  const h13 = postOut.filter((o) => o.status === 503);
  for (const o of h13) {
    const l = lines.get(o.id);
    t.ok(l && l.code === 'H13' && l.status === 503 && l.dyno === b.address, `POST ${o.id} logged as H13 on the dead dyno: ${l?.raw}`);
  }
  const missing = all.filter((o) => lines.get(o.id)?.status !== o.status);
  t.same(missing.map((o) => `${o.id} client=${o.status} line=${lines.get(o.id)?.raw}`), [], 'one access line per request, with the status the client got');

  t.ok(getOut.filter((o) => !afterKill(o) && o.status === 200 && JSON.parse(o.body).dyno === 'b').length > 0, 'dyno b served GETs before the kill');
  const notA = afterOut.filter((o) => o.status !== 200 || JSON.parse(o.body).dyno !== 'a');
  t.same(notA.map((o) => `${o.id} ${o.status} ${o.body.trim()}`), [], 'after the kill, every request is served by the live dyno');
  const afterLinesOnB = afterOut.filter((o) => lines.get(o.id)?.dyno !== a.address);
  t.same(afterLinesOnB.map((o) => lines.get(o.id)?.raw), [], 'after the kill, every access line names the live dyno');

  const getsAfterKill = getOut.filter(afterKill).length;
  report(t, 'dyno-killed', {
    requestsSent: all.length,
    requestsFailed: all.filter((o) => o.status !== 200).length,
    linesSent: all.length,
    linesDelivered: all.filter((o) => lines.has(o.id)).length,
    linesDroppedReported: 0,
    gets: getOut.length,
    getsFailed: failedGets.length,
    getsAfterKill,
    posts: postOut.length,
    postsH13: h13.length,
    postStatuses: byStatus(postOut),
    afterKillServedByLive: afterOut.length - notA.length,
  });
});
