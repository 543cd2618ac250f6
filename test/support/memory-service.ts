import { MemoryAuditLog } from '../../src/adapters/memory/memory-audit-log.js';
import { MemoryEventLog } from '../../src/adapters/memory/memory-event-log.js';
import { MemoryJobQueue } from '../../src/adapters/memory/memory-job-queue.js';
import { MemoryProvenanceStore } from '../../src/adapters/memory/memory-provenance-store.js';
import { DEFAULT_VOLATILE_KEYS } from '../../src/domain/hashing.js';
import type { JobHandler } from '../../src/domain/ports/job-handlers.js';
import type { ProvenanceStore } from '../../src/domain/ports/provenance-store.js';
import { NO_METRICS } from '../../src/domain/ports/metrics.js';
import type { Principal } from '../../src/domain/principal.js';
import { secretKeyMatcher } from '../../src/domain/redaction.js';
import type { ServiceLimits } from '../../src/domain/validation.js';
import { createDefaultRegistry } from '../../src/handlers/built-in-handlers.js';
import { DependentsSnapshots, type DependentsSnapshotLimits } from '../../src/service/dependents-snapshots.js';
import { EventHub } from '../../src/service/event-stream/event-hub.js';
import { EventRelay } from '../../src/service/event-stream/event-relay.js';
import { JobAccessCache } from '../../src/service/event-stream/job-access-cache.js';
import { PublishingStore } from '../../src/service/event-stream/publishing-store.js';
import { ProvenanceService, type ExecutionSettings } from '../../src/service/provenance-service.js';

/** A clock the test moves: the service reads the time from it only. */
export class TestClock {
  private ms: number;

  constructor(start = Date.UTC(2026, 0, 2, 3, 4, 5, 0)) {
    this.ms = start;
  }

  now = (): Date => new Date(this.ms);

  advance(ms: number): Date {
    this.ms += ms;
    return this.now();
  }
}

export interface MemoryServiceOptions {
  limits?: Partial<ServiceLimits>;
  execution?: Partial<ExecutionSettings>;
  /** Handlers by type, besides the built-in ones. */
  handlers?: Record<string, JobHandler>;
  dependentsSnapshots?: DependentsSnapshotLimits;
  /** The store behind the publishing store, instead of a new memory store (e.g. SQLite, to run a use case on both). */
  store?: ProvenanceStore;
}

/** The deployment secret of these services, which keys the placeholders of hidden jobs. */
export const TEST_SECRET = Buffer.alloc(32, 7);

/**
 * The service over the in-memory adapters (store behind the publishing
 * store, audit log, event log, job queue) with a test clock: the use cases as
 * the transports call them, with nothing to start. The adapters are exposed
 * for looking behind the service's answers.
 */
export function memoryService(options: MemoryServiceOptions = {}) {
  const clock = new TestClock();
  const rawStore = options.store ?? new MemoryProvenanceStore();
  const events = new MemoryEventLog();
  const queue = new MemoryJobQueue();
  const audit = new MemoryAuditLog();
  const log = { debug() {}, info() {}, warn() {}, error() {} };
  const store = new PublishingStore(rawStore, new EventRelay(rawStore, events, log, NO_METRICS), NO_METRICS);
  const hub = new EventHub(events, { bufferLimit: 1000, readBatch: 100, blockMs: 1000, maxPerPrincipal: 4 }, log, NO_METRICS);
  const handlers = createDefaultRegistry();
  handlers.registerAll(Object.entries(options.handlers ?? {}).map(([type, handler]) => ({ type, handler, source: 'the test' })));
  const service = new ProvenanceService({
    store,
    queue,
    hub,
    eventJobAccess: new JobAccessCache(store, { maxEntries: 0, ttlMs: 0 }),
    dependentsSnapshots: new DependentsSnapshots(options.dependentsSnapshots),
    handlers,
    limits: {
      maxLineageDepth: 50,
      maxLineageNodes: 1000,
      maxStreamLineageNodes: 1000,
      batchSize: 100,
      maxParents: 100,
      maxBatchParents: 1000,
      maxPayloadBytes: 64 * 1024,
      volatileKeys: new Set(DEFAULT_VOLATILE_KEYS),
      isSecretKey: secretKeyMatcher(['password', 'token']),
      ...options.limits,
    },
    execution: { cacheTtlMs: 0, tenantCacheSalts: new Map(), jobTimeoutMs: 60_000, maxOutputBytes: 64 * 1024, ...options.execution },
    secret: TEST_SECRET,
    audit,
    metrics: NO_METRICS,
    log,
    now: clock.now,
  });
  return {
    service,
    clock,
    store: rawStore,
    events,
    queue,
    audit,
    hub,
    async close(): Promise<void> {
      hub.stop();
      await queue.close(1000);
      await events.close();
    },
  };
}

export type MemoryService = ReturnType<typeof memoryService>;

export function principal(tenant: string, subject: string, roles: Principal['roles'] = ['submitter']): Principal {
  return { tenant, subject, roles };
}
