import { createHash } from 'node:crypto';
import t from 'tap';
import { documentDigest } from '../../../router/config/document-digest.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

t.test('the digest is the one the module comment defines, for a fresh and a frozen document', async (t) => {
  const app = { dynos: ['127.0.0.1:5001'] };
  const site = { host: 'a.example', app: 'web' };
  const doc = { version: 1, apps: { web: app }, sites: { s1: site }, access_log: { format: 'heroku' } };
  const appsRecord = sha(`"web":${sha(JSON.stringify(app))},`);
  const sitesRecord = sha(`"s1":${sha(JSON.stringify(site))},`);
  const expected = sha(`"version":1,"apps":{${appsRecord}},"sites":{${sitesRecord}},"access_log":${JSON.stringify(doc.access_log)},`);
  t.equal(documentDigest(JSON.parse(JSON.stringify(doc)) as Record<string, unknown>).sha256, expected);
  const frozen = Object.freeze({ ...doc, apps: Object.freeze({ web: Object.freeze(app) }) });
  t.equal(documentDigest(frozen).sha256, expected, 'the same when cached');
  t.equal(documentDigest(frozen).sha256, expected, 'and from the cache');
  const d = documentDigest({ version: 1 });
  t.equal(d.sha256, sha('"version":1,'));
  t.equal(d.bytes, 2 + '"version"'.length + 2 + 1, 'bytes: the compact size the history reports');
});
