import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { randomBytes } from 'node:crypto';
import type { AuditLog } from './domain/ports/audit-log.js';
import type { QueueDepth } from './domain/ports/job-queue.js';
import { NO_METRICS, type Metrics } from './domain/ports/metrics.js';
import type { ProvenanceStore } from './domain/ports/provenance-store.js';
import { secretKeyMatcher } from './domain/redaction.js';
import { RedisStreamEventLog } from './adapters/redis-streams/redis-stream-event-log.js';
import { untilRedisAnswers } from './adapters/shared/redis-at-start.js';
import { RedisConnectionWatch } from './adapters/shared/redis-connection-watch.js';
import { PrometheusMetrics } from './adapters/prometheus/prometheus-metrics.js';
import { buildInfo } from './platform/build-info.js';
import { BeeQueueJobQueue } from './adapters/bee-queue/bee-queue-job-queue.js';
import { createDefaultRegistry } from './handlers/built-in-handlers.js';
import { loadHandlerModules } from './handlers/handler-modules.js';
import { DependentsSnapshots } from './service/dependents-snapshots.js';
import { EventHub } from './service/event-stream/event-hub.js';
import { EventRelay } from './service/event-stream/event-relay.js';
import { JobAccessCache } from './service/event-stream/job-access-cache.js';
import { PublishingStore } from './service/event-stream/publishing-store.js';
import { WorkerPool } from './service/execution/worker-pool.js';
import { ProvenanceService } from './service/provenance-service.js';
import { TimedStore } from './service/timed-store.js';
import { MongoAuditLog } from './adapters/mongo/mongo-audit-log.js';
import { MongoProvenanceStore } from './adapters/mongo/mongo-provenance-store.js';
import { SqliteProvenanceStore } from './adapters/sqlite/sqlite-provenance-store.js';

/**
 * Wires configuration to adapters to the service, for both entry points:
 * main.ts (the gRPC server, with workers unless told otherwise) and
 * worker.ts (workers only). The only module that knows every adapter.
 */
export interface Runtime {
  service: ProvenanceService;
  /** Starts taking jobs from the queue. */
  startWorkers(): void;
  /** This process's fan-out of the event log; start() it where WatchEvents is served. */
  hub: EventHub;
  /** How many jobs the queue holds, for the metrics. */
  queueDepth(): Promise<QueueDepth>;
  /** Whether the Redis connections are up now, by connection (queue, events), for the metrics. */
  redisUp(): Record<string, boolean>;
  /** Stops the workers (waiting up to graceMs for running jobs) and the hub, then closes queue, event log and store. */
  close(graceMs: number): Promise<void>;
}

/** lineageGraph: how a SQLite store holds its lineage graph (SqliteProvenanceStore.open); a process that answers no lineage query says 'on-demand'. */
export async function openRuntime(
  config: Config,
  logger: Logger,
  metrics: Metrics = NO_METRICS,
  options: { lineageGraph?: 'background' | 'on-demand' } = {},
): Promise<Runtime> {
  const handlers = createDefaultRegistry();
  await loadHandlerModules(config.execution.handlerModules, handlers);
  const records = await openStore(config, options.lineageGraph ?? 'background');
  const timedStore = new TimedStore(records, metrics);
  const audit = await openAuditLog(config, records);
  const execution = config.execution;
  const log = logger.child({ component: 'execution' });
  const redis = new RedisConnectionWatch(logger.child({ component: 'redis' }));
  const eventLogConnection = redis.connection('events');
  const queueConnection = redis.connection('queue');
  // A process started before Redis waits for it; once it answers, a failure to connect is a failure to start.
  await untilRedisAnswers(config.redisUrl, eventLogConnection);
  const eventLog = await RedisStreamEventLog.connect({
    redisUrl: config.redisUrl,
    key: `${execution.redisPrefix}:events`,
    retention: config.events.retention,
    onError: (error) => eventLogConnection.failed(error),
    commandTimeoutMs: config.redisTimeoutMs,
  });
  eventLog.onReady(() => eventLogConnection.ready());
  const relay = new EventRelay(timedStore, eventLog, log, metrics);
  const store = new PublishingStore(timedStore, relay, metrics);
  const hub = new EventHub(
    eventLog,
    { bufferLimit: config.events.subscriberBuffer, readBatch: 500, blockMs: 5_000, maxPerPrincipal: config.events.maxSubscriptionsPerPrincipal },
    log,
    metrics,
  );
  const queue = await BeeQueueJobQueue.connect({
    redisUrl: config.redisUrl,
    prefix: execution.redisPrefix,
    retries: execution.jobRetries,
    backoffMs: execution.jobBackoffMs,
    stallIntervalMs: execution.stallIntervalMs,
    onError: (error) => queueConnection.failed(error),
    commandTimeoutMs: config.redisTimeoutMs,
  });
  queue.onReady(() => queueConnection.ready());
  const service = new ProvenanceService({
    store,
    queue,
    hub,
    eventJobAccess: new JobAccessCache(store, config.events.accessCache),
    dependentsSnapshots: new DependentsSnapshots(),
    handlers,
    limits: {
      maxLineageDepth: config.maxLineageDepth,
      maxLineageNodes: config.maxLineageNodes,
      maxStreamLineageNodes: config.maxStreamLineageNodes,
      batchSize: config.batchSize,
      maxParents: config.maxParents,
      maxBatchParents: config.maxBatchParents,
      maxPayloadBytes: config.maxPayloadBytes,
      volatileKeys: new Set(config.volatileKeys),
      isSecretKey: secretKeyMatcher(config.redactKeys),
    },
    secret: config.security.secret ?? randomBytes(32),
    audit,
    metrics,
    execution: { cacheTtlMs: execution.cacheTtlMs, tenantCacheSalts: execution.tenantCacheSalts, jobTimeoutMs: execution.jobTimeoutMs, maxOutputBytes: execution.maxOutputBytes },
    log,
    now: () => new Date(),
  });
  const pool = new WorkerPool(queue, service, log, { concurrency: execution.workerConcurrency, repairIntervalMs: execution.repairIntervalMs });
  // Outboxes left behind (the log was down, a process died) go out now, whenever the log comes back, and on an interval.
  const sweep = () => void relay.sweep().catch((error: unknown) => log.warn({ err: error }, 'event relay sweep failed; it runs again on the next trigger'));
  eventLog.onReady(sweep);
  const sweeper = config.events.relayIntervalMs > 0 ? setInterval(sweep, config.events.relayIntervalMs).unref() : undefined;
  return {
    service,
    startWorkers: () => pool.start(),
    hub,
    queueDepth: () => queue.depth(),
    redisUp: () => redis.state(),
    async close(graceMs) {
      clearInterval(sweeper);
      pool.stop();
      hub.stop();
      await queue.close(graceMs);
      await eventLog.close();
      await audit.close();
      await store.close();
    },
  };
}

/** The Prometheus metrics of a process (server or worker), before its runtime is open. */
export function prometheusMetrics(): PrometheusMetrics {
  return new PrometheusMetrics(buildInfo());
}

/** Adds to the metrics what is read from the runtime at each scrape. */
export function sampleRuntime(metrics: PrometheusMetrics, runtime: Runtime): void {
  metrics.sample({ queueDepth: () => runtime.queueDepth(), subscriberCount: () => runtime.hub.subscriberCount, redisUp: () => runtime.redisUp() });
}

/** The audit trail lives in the same database as the records: on MongoDB through a client of its own, on SQLite on the store's connection. */
async function openAuditLog(config: Config, store: ProvenanceStore): Promise<AuditLog & { close(): Promise<void> }> {
  const { storage } = config;
  if (storage.type === 'mongodb') {
    return MongoAuditLog.connect({ uri: storage.uri, database: storage.database, appName: 'provenance-audit', serverSelectionTimeoutMS: config.storeTimeoutMs });
  }
  // openStore opened a SqliteProvenanceStore for this storage.
  return (store as SqliteProvenanceStore).auditLog();
}

async function openStore(config: Config, lineageGraph: 'background' | 'on-demand'): Promise<ProvenanceStore> {
  const { storage } = config;
  if (storage.type === 'mongodb') {
    return MongoProvenanceStore.connect({
      uri: storage.uri,
      database: storage.database,
      appName: 'provenance',
      serverSelectionTimeoutMS: config.storeTimeoutMs,
    });
  }
  return SqliteProvenanceStore.open({ path: storage.path, busyTimeoutMs: config.storeTimeoutMs, lineageGraph });
}
