import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { isWrongLastSequence } from './nats-errors.js';

export type { KV, KvEntry } from '@nats-io/kv';
/** Buckets are created (if absent) and opened by ensureKvBucket, with a TTL for every entry. */
export { ensureKvBucket, type KvBucketOptions } from './ensure.js';

/**
 * Compare-and-set helpers over a KV bucket, the building blocks of leases: `createKey` writes
 * only when the key holds nothing (absent, deleted, or expired by the bucket's TTL); `updateKey`
 * writes only over the revision the caller read, so a holder renews only a lease it still holds.
 * CAVEAT (nats-server 2.9, clustered bucket): two creates of one key racing within a few
 * milliseconds can both be acknowledged (the expected-sequence check is not serialised with the
 * raft proposal there; seen by the shuttle's leader-failover test). A lease taken with
 * `createKey` must therefore be confirmed by a successful `updateKey` over its revision before
 * the holder acts on it: of two racing winners, only one can update over its own revision. On nats-server 2.9 a TTL is per bucket
 * (max_age of its stream): an entry expires that long after its last write, so a holder renews
 * well within it (e.g. every TTL/3) and a dead holder's lease disappears by itself.
 */

/** Writes `value` under `key` only if the key holds nothing; the new revision, or null when it is held. */
export async function createKey(kv: KV, key: string, value: string | Uint8Array): Promise<number | null> {
  try {
    return await kv.create(key, value);
  } catch (err) {
    if (isWrongLastSequence(err)) return null;
    throw err;
  }
}

/** Writes `value` only over `revision`; the new revision, or null when someone else wrote meanwhile. */
export async function updateKey(kv: KV, key: string, value: string | Uint8Array, revision: number): Promise<number | null> {
  try {
    return await kv.update(key, value, revision);
  } catch (err) {
    if (isWrongLastSequence(err)) return null;
    throw err;
  }
}

/** Deletes `key` only at `revision` (a holder releasing its own lease); false when it moved on. */
export async function deleteKey(kv: KV, key: string, revision: number): Promise<boolean> {
  try {
    await kv.delete(key, { previousSeq: revision });
    return true;
  } catch (err) {
    if (isWrongLastSequence(err)) return false;
    throw err;
  }
}

/** Opens an existing bucket without creating it (calls fail later if it does not exist). */
export function openKvBucket(nc: NatsConnection, name: string, timeoutMs = 10000): Promise<KV> {
  return new Kvm(jetstream(nc, { timeout: timeoutMs })).open(name);
}
