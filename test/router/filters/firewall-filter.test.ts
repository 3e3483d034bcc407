import t from 'tap';
import { baseConfig } from '../../support/router-harness.js';
import { AddressSet } from '../../../router/filters/address-set.js';
import { parseAddress, parseCidr, type AddressRange } from '../../../router/filters/ip-address.js';
import { FirewallFilter } from '../../../router/filters/firewall-filter.js';
import { call, problem, recordingDyno, startEdgeRouter } from './support/edge-rig.js';

// firewall: the matcher itself (IPv4, IPv6, IPv4-mapped both ways, deny wins, merged ranges),
// then through real router processes: an IPv4 listener, and a dual-stack listener on `::`
// reached over ::1 (IPv6) and 127.0.0.1 (an IPv4-mapped peer). X-Forwarded-For is never the client.

const range = (cidr: string): AddressRange => {
  const r = parseCidr(cidr);
  if (typeof r === 'string') throw new Error(r);
  return r;
};
const count = () => ({ passed: 0, refused: {} });

t.test('the matcher', async (t) => {
  const set = new AddressSet(['10.0.0.0/8', '10.6.6.0/24', '192.168.1.7', '2001:db8::/32', '::1/128', '172.16.0.0/13', '172.24.0.0/13'].map(range));
  t.equal(set.size, 5, 'overlapping and adjacent ranges merged (10.6.6.0/24 in 10/8; 172.16/13 + 172.24/13 = 172.16/12)');
  const cases: [string, boolean][] = [
    ['10.0.0.0', true], ['10.255.255.255', true], ['11.0.0.0', false], ['9.255.255.255', false],
    ['192.168.1.7', true], ['192.168.1.8', false], ['172.31.255.255', true], ['172.32.0.0', false],
    ['2001:db8::1', true], ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', true], ['2001:db9::', false],
    ['::1', true], ['::2', false], ['0000:0000:0000:0000:0000:0000:0000:0001', true],
    // IPv4-mapped IPv6 peers (a dual-stack listener) match IPv4 rules
    ['::ffff:10.1.2.3', true], ['0000:0000:0000:0000:0000:ffff:0a01:0203', true], ['::ffff:11.1.2.3', false],
    ['::ffff:192.168.1.7', true],
  ];
  for (const [addr, want] of cases) t.equal(set.has(parseAddress(addr)!), want, `${addr} ${want ? 'in' : 'not in'} the set`);
  const mapped = new AddressSet([range('::ffff:127.0.0.0/104')]);
  t.ok(mapped.has(parseAddress('127.0.0.1')!), 'an IPv6 rule for mapped addresses matches a plain IPv4 peer');
  t.notOk(mapped.has(parseAddress('128.0.0.1')!));
  t.ok(new AddressSet([range('0.0.0.0/0')]).has(parseAddress('8.8.8.8')!), '0.0.0.0/0 is every IPv4 address');
  t.notOk(new AddressSet([range('0.0.0.0/0')]).has(parseAddress('2001:db8::1')!), 'and no IPv6 one');
  t.ok(new AddressSet([range('::/0')]).has(parseAddress('8.8.8.8')!), '::/0 is every address');
  for (const bad of ['10.0.0.0/33', '10.0.0.1/8', '2001:db8::/129', 'fe80::1%eth0', 'example.com', '10.0.0/8', '10.0.0.0/-1']) {
    t.type(parseCidr(bad), 'string', `${bad} is refused`);
  }

  const fw = new FirewallFilter('office', { type: 'firewall', allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.6.6.0/24'] }, count());
  t.equal(fw.verdict('10.1.1.1'), null, 'allowed');
  t.match(fw.verdict('10.6.6.6'), /denied/, 'deny wins over allow');
  t.match(fw.verdict('0000:0000:0000:0000:0000:ffff:0a06:0606'), /denied/, 'deny wins for the mapped form too');
  t.match(fw.verdict('192.0.2.1'), /not allowed/, 'outside allow');
  t.equal(fw.verdict('2001:0db8:0000:0000:0000:0000:0000:0042'), null);
  const denyOnly = new FirewallFilter('d', { type: 'firewall', deny: ['::1'] }, count());
  t.equal(denyOnly.verdict('192.0.2.1'), null, 'no allow list: everything not denied passes');
  t.match(denyOnly.verdict('::1'), /denied/);
  // the last peer's address is remembered (peerAddress): the same peer again, then others, in turn
  const turns: [string, RegExp | null][] = [
    ['10.6.6.6', /denied/], ['10.6.6.6', /denied/], ['10.1.1.1', null], ['10.6.6.6', /denied/], ['', /cannot be read/],
    ['192.0.2.1', /not allowed/], ['192.0.2.1', /not allowed/], ['2001:db8::9', null], ['not an address', /cannot be read/], ['10.1.1.1', null],
  ];
  for (const [peer, want] of turns) {
    if (want === null) t.equal(fw.verdict(peer), null, `${peer || '(empty)'}: allowed, whatever the peer before`);
    else t.match(fw.verdict(peer), want, `${peer || '(empty)'}: ${want.source}, whatever the peer before`);
  }
});

t.test('through the router: IPv4 listener', async (t) => {
  const dyno = await recordingDyno();
  t.teardown(() => dyno.close());
  const router = await startEdgeRouter(baseConfig({
    apps: {
      office: { dynos: [dyno.address], filters: [{ filter: 'office' }] },
      loopback: { dynos: [dyno.address], filters: [{ filter: 'loopback' }] },
      mappedrule: { dynos: [dyno.address], filters: [{ filter: 'mapped-rule' }] },
    },
    filters: {
      office: { type: 'firewall', allow: ['10.0.0.0/8'] },
      loopback: { type: 'firewall', allow: ['127.0.0.0/8'], deny: ['127.0.0.1/32'] },
      'mapped-rule': { type: 'firewall', allow: ['::ffff:127.0.0.0/104'] },
    },
  }));
  t.teardown(() => router.stop());
  const port = router.ports.http;
  const r = await call(port, { host: 'office.example.io', path: '/', headers: { 'x-forwarded-for': '10.1.2.3', 'x-request-id': 'fw-office-1' } });
  t.equal(r.status, 403, 'a peer outside allow: 403, whatever X-Forwarded-For says');
  t.match(r.headers['content-type'], /^application\/problem\+json/);
  t.same({ status: problem(r).status, code: problem(r).code }, { status: 403, code: 'firewall_denied' });
  t.equal(r.headers['x-request-id'], 'fw-office-1');
  const line = await router.waitForLine((l) => l.includes('request_id=fw-office-1'));
  t.match(line, /^at=info code=firewall_denied method=GET /);
  const denied = await call(port, { host: 'loopback.example.io', path: '/' });
  t.equal(denied.status, 403, 'deny wins over allow (127.0.0.1 in both)');
  t.equal((await call(port, { host: 'mappedrule.example.io', path: '/' })).status, 200, 'an IPv6 rule for mapped addresses lets the IPv4 peer through');
  t.equal(dyno.seen.length, 1, 'only the allowed request reached the dyno');
});

t.test('through the router: a dual-stack listener reached over IPv6 and IPv4', async (t) => {
  const dyno = await recordingDyno();
  t.teardown(() => dyno.close());
  const router = await startEdgeRouter({
    ...baseConfig({}),
    listen: { http: { host: '::', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    apps: {
      v6only: { dynos: [dyno.address], filters: [{ filter: 'v6-loopback' }] },
      v4only: { dynos: [dyno.address], filters: [{ filter: 'v4-loopback' }] },
      nov6: { dynos: [dyno.address], filters: [{ filter: 'deny-v6-loopback' }] },
    },
    filters: {
      'v6-loopback': { type: 'firewall', allow: ['::1/128'] },
      'v4-loopback': { type: 'firewall', allow: ['127.0.0.0/8'] },
      'deny-v6-loopback': { type: 'firewall', deny: ['::1'] },
    },
  });
  t.teardown(() => router.stop());
  const port = router.ports.http;
  const status = (host: string, address: string): Promise<number> => call(port, { host, path: '/', address }).then((r) => r.status);
  t.equal(await status('v6only.example.io', '::1'), 200, 'an IPv6 peer in an IPv6 allow range');
  t.equal(await status('v6only.example.io', '127.0.0.1'), 403, 'an IPv4 peer (seen as ::ffff:127.0.0.1) is not ::1');
  t.equal(await status('v4only.example.io', '127.0.0.1'), 200, 'an IPv4-mapped peer matches an IPv4 rule');
  t.equal(await status('v4only.example.io', '::1'), 403, 'an IPv6 peer does not');
  t.equal(await status('nov6.example.io', '::1'), 403, 'deny of an IPv6 address');
  t.equal(await status('nov6.example.io', '127.0.0.1'), 200, 'everything else passes a deny-only firewall');
});
