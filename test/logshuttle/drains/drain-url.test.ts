import t from 'tap';
import { parseDrainUrl, DrainUrlError } from '../../../logshuttle/drains/drain-url.js';
import { EdgeplaneError } from '../../../shared/errors.js';

t.test('accepts every scheme with defaults and normalises syslog:// to syslog+tcp', async (t) => {
  const cases: Array<[string, string, string, number]> = [
    ['syslog+udp://logs.example.com:5514', 'syslog+udp', 'logs.example.com', 5514],
    ['syslog://logs.example.com:6000', 'syslog+tcp', 'logs.example.com', 6000],
    ['syslog+tcp://10.0.0.1', 'syslog+tcp', '10.0.0.1', 514],
    ['syslog+tls://Logs.Example.com', 'syslog+tls', 'logs.example.com', 6514],
    ['syslog+tls://[::1]:7000', 'syslog+tls', '::1', 7000],
    ['https://collector.example.com/logs', 'https', 'collector.example.com', 443],
    ['http://127.0.0.1:8080/', 'http', '127.0.0.1', 8080],
  ];
  for (const [url, scheme, host, port] of cases) {
    const d = parseDrainUrl(url);
    t.equal(d.scheme, scheme, url);
    t.equal(d.host, host, url);
    t.equal(d.port, port, url);
    t.equal(d.url, url);
    t.ok(Object.isFrozen(d), 'frozen');
  }
  t.equal(parseDrainUrl('syslog+tls://[::1]:7000').hostIsIp, true);
  t.equal(parseDrainUrl('syslog+tls://a.example').hostIsIp, false);
});

t.test('https user-info becomes basic auth credentials and is redacted', async (t) => {
  const d = parseDrainUrl('https://user:p%40ss@collector.example.com/logs?token=1');
  t.equal(d.username, 'user');
  t.equal(d.password, 'p@ss');
  t.equal(d.path, '/logs?token=1');
  t.notMatch(d.redacted, /p%40ss|p@ss/);
  t.match(d.redacted, /user:\*\*\*@collector/);
});

t.test('rejects bad URLs with code E_DRAIN_URL and a reason', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['logs.example.com:514', /scheme/],
    ['ftp://logs.example.com', /unsupported scheme "ftp:"/],
    ['syslog:logs.example.com', /"\/\/"/],
    ['syslog://logs example.com', /whitespace/],
    ['syslog://h.example:0', /invalid port/],
    ['syslog://h.example:', /empty port/],
    ['syslog://h.example:70000', /not a valid URL|invalid port/],
    ['syslog://h.example/x', /path is not allowed/],
    ['syslog://u:p@h.example', /user-info/],
    ['syslog+tls://h.example?x=1', /query/],
    ['https://h.example/#frag', /fragment/],
    ['https://bad_host!.example/', /not a valid URL|invalid host/],
    ['syslog://' + 'a'.repeat(3000), /longer than/],
  ];
  for (const [url, reason] of bad) {
    try {
      parseDrainUrl(url);
      t.fail(`accepted ${url}`);
    } catch (err) {
      t.ok(err instanceof DrainUrlError, `${url.slice(0, 40)} is a DrainUrlError`);
      t.ok(err instanceof EdgeplaneError);
      t.equal((err as DrainUrlError).code, 'E_DRAIN_URL');
      t.match((err as Error).message, reason, url.slice(0, 40));
    }
  }
});

t.test('error messages never show a password', async (t) => {
  try {
    parseDrainUrl('ftp://user:secret@h.example/');
    t.fail('accepted');
  } catch (err) {
    t.notMatch((err as Error).message, /secret/);
  }
});
