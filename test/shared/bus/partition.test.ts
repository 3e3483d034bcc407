// Subjects, partitions and message ids of the bus (DESIGN.md "Log bus").
import t from 'tap';
import { appToken, decodeAppToken, fnv1a32, partitionOf, partitionOfSubject, subjectFor } from '../../../shared/bus/partition.js';
import { MsgIdSource, parseMsgId } from '../../../shared/bus/msg-id.js';

t.test('FNV-1a 32-bit matches the published test vectors', async (t) => {
  const h = (s: string): number => fnv1a32(Buffer.from(s, 'utf8'));
  t.equal(h(''), 0x811c9dc5);
  t.equal(h('a'), 0xe40c292c);
  t.equal(h('foobar'), 0xbf9cf968);
});

t.test('partition and subject of an app', async (t) => {
  t.equal(partitionOf('api-prod', 16), fnv1a32(Buffer.from('api-prod')) % 16);
  t.equal(subjectFor('api-prod', 16), `logs.${partitionOf('api-prod', 16)}.api-prod`);
  t.equal(partitionOf('anything', 1), 0);
  // the partition hashes the UTF-8 bytes
  t.equal(partitionOf('café', 1000), fnv1a32(Buffer.from('café', 'utf8')) % 1000);
  t.equal(partitionOfSubject('logs.7.api-prod'), 7);
  t.equal(partitionOfSubject('nope'), -1);
});

t.test('app names with characters a subject cannot hold are percent-encoded, reversibly', async (t) => {
  t.equal(appToken('api-prod_2'), 'api-prod_2', 'router-style names are kept');
  t.equal(appToken('my.app'), 'my%2Eapp');
  t.equal(appToken('a b*c>d%'), 'a%20b%2Ac%3Ed%25');
  t.equal(appToken('café'), 'caf%C3%A9');
  for (const name of ['my.app', 'a b*c>d%', 'café', 'x\ty', '日本']) {
    const token = appToken(name);
    t.match(token, /^[A-Za-z0-9_%-]+$/, `${JSON.stringify(name)} -> ${token}`);
    t.equal(decodeAppToken(token), name);
  }
  const subject = subjectFor('my.app', 16);
  t.equal(subject.split('.').length, 3, 'always three tokens (the stream captures logs.*.*)');
});

t.test('a very long app name gets a bounded token ending in a hash', async (t) => {
  const long = 'x'.repeat(300);
  const token = appToken(long);
  t.ok(token.length <= 200);
  t.match(token, /~[0-9a-f]{8}$/);
  t.equal(decodeAppToken(token), null, 'only the payload holds the name');
  t.not(appToken('x'.repeat(301)), token, 'different names, different tokens');
  const dots = '.'.repeat(100);
  t.ok(appToken(dots).length <= 200, 'no escape is cut in half');
  t.match(appToken(dots), /^(%2E)+~[0-9a-f]{8}$/);
});

t.test('message ids: <producer>-<start ms>-<sequence>', async (t) => {
  const ids = new MsgIdSource('router.host-a.12.1', 1700000000000);
  t.equal(ids.next(), 'router.host-a.12.1-1700000000000-1');
  t.equal(ids.next(), 'router.host-a.12.1-1700000000000-2');
  t.equal(ids.sequence, 2);
  t.same(parseMsgId('router.host-a.12.1-1700000000000-2'), { producerId: 'router.host-a.12.1', startMs: 1700000000000, sequence: 2 });
  t.equal(parseMsgId('garbage'), null);
});
