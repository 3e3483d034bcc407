/** The NATS JetStream client both programs use (DESIGN.md "Log bus"). */
export { BusConfigSchema, BUS_DEFAULTS, resolveBusConfig, busNames, type BusConfig, type BusConfigDocument } from './bus-config.js';
export { fnv1a32, partitionOf, appToken, decodeAppToken, subjectFor, appSubject, partitionSubject, partitionOfSubject, LOG_SUBJECTS } from './partition.js';
export { MsgIdSource, defaultProducerId, parseMsgId } from './msg-id.js';
export { BusConnection, type BusConnectionOptions, type BusState, type ConnectionStats } from './connection.js';
export { ensureStream, ensureLogStream, ensureKvBucket, logStreamConfig, withRetry, DUPLICATE_WINDOW_MS, type RetryOptions, type KvBucketOptions } from './ensure.js';
export { BusPublisher, type ExtraHeaders, type PublisherOptions, type PublisherStats, type PublishDone, type PubAck } from './publisher.js';
export { createKey, updateKey, deleteKey, openKvBucket, type KV, type KvEntry } from './kv.js';
export { BusMetrics, renderBusMetricsText, busStatsOf, sumBusStats, emptyBusStats, type BusStatsSnapshot } from './bus-metrics.js';
export { BusError, type BusErrorCode } from './bus-errors.js';
