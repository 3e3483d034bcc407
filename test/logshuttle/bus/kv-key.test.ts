import t from 'tap';
import { appKey, appOfKey } from '../../../logshuttle/bus/kv-key.js';

const KV_KEY = /^[-/_=.a-zA-Z0-9]+$/;

t.test('app names become valid one-token KV keys and come back', async (t) => {
  const names = ['api-prod', 'my.app', 'café', 'a=b', 'x*y>z', 'weird%name', '日本', 'UPPER_lower-09', '.lead', 'trail.', '\u{1F600}'];
  for (const app of names) {
    const key = appKey(app);
    t.match(key, KV_KEY, `${app} -> ${key}: KV key characters only`);
    t.notOk(key.includes('.'), `${key}: one token`);
    t.equal(appOfKey(key), app, `${key} decodes back`);
  }
  t.equal(appKey('api-prod'), 'api-prod', 'plain names stay as they are');
  t.equal(appKey('my.app'), 'my=2Eapp');
  t.not(appKey('a=2E'), appKey('a.'), 'the escape character is escaped too: no two names share a key');
  t.equal(appOfKey('bad=ZZ'), null);
  t.equal(appOfKey('has.dot'), null);
});
