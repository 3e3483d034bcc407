import t from 'tap';
import { spawnSync } from 'node:child_process';
import { validateShuttleConfig } from '../../../logshuttle/config/load-config.js';
import { MAIN, writeConfig } from '../helpers/shuttle-process.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

t.test('defaults and freezing', async (t) => {
  const c = validateShuttleConfig({ listen: { http: { host: '127.0.0.1', port: 5000 } } });
  t.equal(c.history, 1500);
  t.equal(c.drainBuffer, 1024);
  t.equal(c.workers, 0);
  t.same(c.drains, {});
  t.equal(c.shutdownMs, 10000);
  t.equal(c.appIdleMs, 6 * 3600 * 1000);
  t.equal(c.maxApps, 50000);
  t.equal(c.maxRingBytes, 2 * 1024 ** 3);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.listen.http), 'frozen');
});

t.test('a $schema key (for editors) is accepted, other unknown keys are not', async (t) => {
  const c = validateShuttleConfig({ $schema: '../schema/logshuttle.schema.json', listen: { http: { host: '127.0.0.1', port: 5000 } } });
  t.equal(c.history, 1500);
  t.throws(() => validateShuttleConfig({ $schemas: 'x', listen: {} }), { code: 'E_CONFIG' });
  t.throws(() => validateShuttleConfig({ $schema: 5, listen: {} }), { code: 'E_CONFIG' });
});

t.test('every bad field is named', async (t) => {
  try {
    validateShuttleConfig({ listen: { http: { host: '', port: 70000 }, tcp: {} }, history: 0, drainBuffer: 'x', workers: -1, drains: { 'api-prod': ['ftp://x', 'syslog+tls://logs.example.com:6514'] }, extra: true,
      shutdownMs: -1, appIdleMs: 0, maxApps: 1.5, maxRingBytes: 'big' });
    t.fail('should throw');
  } catch (err) {
    const e = err as { code: string; problems: string[] };
    t.equal(e.code, 'E_CONFIG');
    const text = e.problems.join('\n');
    for (const field of ['listen.http.host', 'listen.http.port', 'listen.tcp: unknown key', 'history', 'drainBuffer', 'workers', 'drains.api-prod[0]', 'extra: unknown key', 'shutdownMs', 'appIdleMs', 'maxApps', 'maxRingBytes']) {
      t.ok(text.includes(field), `names ${field}`);
    }
    t.notOk(text.includes('drains.api-prod[1]'), 'a good drain URL is not a problem');
  }
});

t.test('the program: exit 2, a clear message naming the fields, nothing started', async (t) => {
  const file = writeConfig({ listen: { http: { host: '127.0.0.1', port: 'x' } }, history: -5, drains: { a: ['nope://'] } });
  const r = spawnSync(process.execPath, [MAIN, '--config', file], { encoding: 'utf8', timeout: 30000 });
  t.equal(r.status, 2);
  t.match(r.stderr, /listen\.http\.port/);
  t.match(r.stderr, /history/);
  t.match(r.stderr, /drains\.a\[0\]/);
  t.notMatch(r.stderr, /listening/);
  const usage = spawnSync(process.execPath, [MAIN], { encoding: 'utf8', timeout: 30000 });
  t.equal(usage.status, 2);
  t.match(usage.stderr, /--config FILE is required/);
  const unknown = spawnSync(process.execPath, [MAIN, '--config', file, '--bogus'], { encoding: 'utf8', timeout: 30000 });
  t.equal(unknown.status, 2);
  const missing = spawnSync(process.execPath, [MAIN, '--config', '/nonexistent/shuttle.json'], { encoding: 'utf8', timeout: 30000 });
  t.equal(missing.status, 2);
  t.match(missing.stderr, /cannot read file: ENOENT/);
});
