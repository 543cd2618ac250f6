import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { ProvenanceStore } from './domain/ports/provenance-store.js';
import { BeeQueueJobQueue } from './queue/bee-queue-job-queue.js';
import { createDefaultRegistry } from './queue/handlers/built-in-handlers.js';
import { loadHandlerModules } from './queue/handlers/handler-modules.js';
import { WorkerPool } from './service/execution/worker-pool.js';
import { ProvenanceService } from './service/provenance-service.js';
import { MongoProvenanceStore } from './store/mongo/mongo-provenance-store.js';
import { SqliteProvenanceStore } from './store/sqlite/sqlite-provenance-store.js';

/**
 * Wires configuration to adapters to the service, for both entry points:
 * main.ts (the gRPC server, with workers unless told otherwise) and
 * worker.ts (workers only). The only module that knows every adapter.
 */
export interface Runtime {
  service: ProvenanceService;
  /** Starts taking jobs from the queue. */
  startWorkers(): void;
  /** Stops the workers (waiting up to graceMs for running jobs), then closes queue and store. */
  close(graceMs: number): Promise<void>;
}

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const handlers = createDefaultRegistry();
  await loadHandlerModules(config.execution.handlerModules, handlers);
  const store = await openStore(config);
  const execution = config.execution;
  const log = logger.child({ component: 'execution' });
  const queue = await BeeQueueJobQueue.connect({
    redisUrl: config.redisUrl,
    prefix: execution.queuePrefix,
    retries: execution.jobRetries,
    backoffMs: execution.jobBackoffMs,
    stallIntervalMs: execution.stallIntervalMs,
    onError: (error) => log.warn({ err: error }, 'job queue connection trouble; it recovers by itself'),
  });
  const service = new ProvenanceService({
    store,
    queue,
    handlers,
    limits: {
      maxLineageDepth: config.maxLineageDepth,
      maxLineageNodes: config.maxLineageNodes,
      batchSize: config.batchSize,
      maxPayloadBytes: config.maxPayloadBytes,
      volatileKeys: new Set(config.volatileKeys),
    },
    execution: { cacheTtlMs: execution.cacheTtlMs, jobTimeoutMs: execution.jobTimeoutMs, maxOutputBytes: execution.maxOutputBytes },
    log,
    now: () => new Date(),
  });
  const pool = new WorkerPool(queue, service, log, { concurrency: execution.workerConcurrency, repairIntervalMs: execution.repairIntervalMs });
  return {
    service,
    startWorkers: () => pool.start(),
    async close(graceMs) {
      pool.stop();
      await queue.close(graceMs);
      await store.close();
    },
  };
}

async function openStore(config: Config): Promise<ProvenanceStore> {
  const { storage } = config;
  if (storage.type === 'mongodb') {
    return MongoProvenanceStore.connect({
      uri: storage.uri,
      database: storage.database,
      appName: 'provenance',
      serverSelectionTimeoutMS: config.storeTimeoutMs,
    });
  }
  return SqliteProvenanceStore.open({ path: storage.path, busyTimeoutMs: config.storeTimeoutMs });
}
