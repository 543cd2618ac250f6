import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobOrigin, JobStatus } from '../../domain/job.js';
import type { QueueDepth } from '../../domain/ports/job-queue.js';
import type { AttemptFailure, Metrics, StoreOperation } from '../../domain/ports/metrics.js';

/** What is read when /metrics is scraped rather than counted as it happens. */
export interface SampledSources {
  queueDepth(): Promise<QueueDepth>;
  subscriberCount(): number;
  /** Whether each Redis connection of the process (the job queue's, the event log's) is up now, by name. */
  redisUp(): Record<string, boolean>;
}

/** What provenance_build_info says about the running code. */
export interface BuildInfo {
  /** package.json's version. */
  version: string;
  /** The git commit the build was made from; "unknown" when the build had no git. */
  commit: string;
}

/**
 * Job types and method names come from callers; past this many distinct
 * values a label reads "other", so that a client inventing types cannot make
 * the registry (and the scraper's storage) grow without bound.
 */
const MAX_LABEL_VALUES = 100;
const OVERFLOW_LABEL = 'other';
/** The call timers kept: a method label (MAX_LABEL_VALUES) by each of the 17 gRPC status codes. */
const MAX_CALL_TIMERS = MAX_LABEL_VALUES * 17;

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const JOB_SECONDS_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
const NODE_COUNT_BUCKETS = [0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10_000, 100_000];
/** A WatchEvents call lasts as long as its subscription: from a second to a day. */
const STREAM_SECONDS_BUCKETS = [1, 10, 60, 300, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400];
/** The embedded store answers in tens of microseconds; MongoDB in milliseconds. */
const STORE_SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Milliseconds right after a write; up to the length of an outage of the event log for what the sweep relays. */
const RELAY_LAG_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 1800, 3600];

/** The Metrics port on prom-client, in a registry of its own (with Node's process metrics), exposed by the HTTP listener. */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly jobTypes = new BoundedLabel();
  private readonly methods = new BoundedLabel();

  private readonly created = this.counter('provenance_jobs_created_total', 'Provenance records created, by job type and origin (SUBMITTED or RECORDED).', ['type', 'origin']);
  private readonly completed = this.counter('provenance_jobs_completed_total', 'Provenance records that reached a terminal status, by job type, origin and status.', [
    'type',
    'origin',
    'status',
  ]);
  private readonly jobDuration = this.histogram(
    'provenance_job_duration_seconds',
    'From start to completion of the jobs that completed with both times known, by job type and status.',
    ['type', 'status'],
    JOB_SECONDS_BUCKETS,
  );
  private readonly cacheLookups = this.counter('provenance_cache_lookups_total', 'Result cache lookups by workers, by result (hit or miss).', ['result']);
  private readonly invalidatedJobs = this.counter('provenance_cache_invalidated_jobs_total', 'Jobs made STALE by invalidations (InvalidateCache and reruns whose output changed).', []);
  private readonly reproducibility = this.counter('provenance_reproducibility_checks_total', 'CheckReproducibility answers, by outcome (reproducible or not_reproducible).', [
    'outcome',
  ]);
  private readonly lineageDuration = this.histogram('provenance_lineage_duration_seconds', 'Time the service took to answer GetLineage.', [], SECONDS_BUCKETS);
  private readonly lineageNodes = this.histogram('provenance_lineage_nodes', 'Nodes in a GetLineage answer (the root excluded).', [], NODE_COUNT_BUCKETS);
  private readonly delivered = this.counter('provenance_events_delivered_total', 'Events handed to WatchEvents subscribers.', []);
  private readonly dropped = this.counter(
    'provenance_events_dropped_total',
    'Events a WatchEvents subscriber ended without (too slow, stream lost, shutdown); it gets them again when it resumes.',
    [],
  );
  private readonly grpcDuration = this.histogram(
    'provenance_grpc_request_duration_seconds',
    'gRPC calls from arrival to status, by method and status code; a WatchEvents call lasts as long as its subscription.',
    ['method', 'code'],
    SECONDS_BUCKETS,
  );
  private readonly streamDuration = this.histogram(
    'provenance_grpc_stream_duration_seconds',
    'Server-streaming gRPC calls (WatchEvents) from arrival to status, by method and status code: each lasts as long as its subscription.',
    ['method', 'code'],
    STREAM_SECONDS_BUCKETS,
  );
  private readonly storeDuration = this.histogram(
    'provenance_store_operation_duration_seconds',
    'Calls of the store (SQLite or MongoDB), by operation and outcome (ok or error).',
    ['operation', 'outcome'],
    STORE_SECONDS_BUCKETS,
  );
  /** One child per operation and outcome, made on first use: no label object per call. */
  /** The histogram child of each method and code seen, found without hashing a label object per call. */
  private readonly callTimers = new Map<string, Histogram.Internal<string>>();
  private readonly storeTimers = { ok: new Map<StoreOperation, Histogram.Internal<string>>(), error: new Map<StoreOperation, Histogram.Internal<string>>() };
  private readonly relayLag = this.histogram(
    'provenance_event_relay_lag_seconds',
    'From the write that committed an event to its record\'s outbox to its append to the event log.',
    [],
    RELAY_LAG_SECONDS_BUCKETS,
  );
  private readonly outboxEvents = new Gauge({
    name: 'provenance_event_outbox_backlog_events',
    help: 'Events the last relay sweep had to leave in the outboxes because the event log could not take them.',
    registers: [this.registry],
  });
  private readonly queueWait = this.histogram(
    'provenance_job_queue_wait_seconds',
    'From a job\'s (re-)queueing to a worker claiming it, by job type; a retry\'s wait includes its backoff.',
    ['type'],
    JOB_SECONDS_BUCKETS,
  );
  private readonly retries = this.counter('provenance_job_retries_total', 'Attempts that failed with retries left, by job type and reason (handler_error or timeout).', [
    'type',
    'reason',
  ]);
  private readonly timeouts = this.counter('provenance_job_timeouts_total', 'Attempts aborted by the job timeout, by job type, retried or not.', ['type']);

  constructor(build: BuildInfo) {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which `promtool check metrics` refuses; each is the sum of the same name without _total, by type.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    new Gauge({
      name: 'provenance_build_info',
      help: 'Always 1; the labels name the running build: its version (package.json) and git commit.',
      labelNames: ['version', 'commit'],
      registers: [this.registry],
    }).set({ version: build.version, commit: build.commit }, 1);
  }

  /** Adds the gauges read at scrape time: queue depth by state, open WatchEvents subscriptions, and whether each Redis connection is up. */
  sample(sources: SampledSources): void {
    new Gauge({
      name: 'provenance_queue_jobs',
      help: 'Jobs the queue holds, by state (waiting, active, delayed); absent while the queue cannot be reached.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const depth = await sources.queueDepth().catch(() => undefined);
        for (const [state, count] of Object.entries(depth ?? {})) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'provenance_event_subscribers',
      help: 'Open WatchEvents subscriptions in this process.',
      registers: [this.registry],
      collect() {
        this.set(sources.subscriberCount());
      },
    });
    new Gauge({
      name: 'provenance_redis_up',
      help: 'Whether the Redis connection is up (1) or lost (0), by connection: queue (the job queue) and events (the event log).',
      labelNames: ['connection'],
      registers: [this.registry],
      collect() {
        for (const [connection, up] of Object.entries(sources.redisUp())) this.set({ connection }, up ? 1 : 0);
      },
    });
  }

  /** The text exposition format, and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  jobCreated(type: string, origin: JobOrigin): void {
    this.created.inc({ type: this.jobTypes.of(type), origin });
  }

  jobCompleted(type: string, origin: JobOrigin, status: JobStatus, durationMs: number | undefined): void {
    const typeLabel = this.jobTypes.of(type);
    this.completed.inc({ type: typeLabel, origin, status });
    if (durationMs !== undefined) this.jobDuration.observe({ type: typeLabel, status }, durationMs / 1000);
  }

  cacheLookup(result: 'hit' | 'miss'): void {
    this.cacheLookups.inc({ result });
  }

  invalidated(jobCount: number): void {
    this.invalidatedJobs.inc(jobCount);
  }

  reproducibilityChecked(outcome: 'reproducible' | 'not_reproducible'): void {
    this.reproducibility.inc({ outcome });
  }

  lineageAnswered(durationMs: number, nodeCount: number): void {
    this.lineageDuration.observe(durationMs / 1000);
    this.lineageNodes.observe(nodeCount);
  }

  eventsDelivered(count: number): void {
    this.delivered.inc(count);
  }

  eventsDropped(count: number): void {
    this.dropped.inc(count);
  }

  callEnded(method: string, code: string, durationMs: number): void {
    const key = `${method} ${code}`;
    let timer = this.callTimers.get(key);
    if (!timer) {
      timer = this.grpcDuration.labels({ method: this.methods.of(method), code });
      if (this.callTimers.size < MAX_CALL_TIMERS) this.callTimers.set(key, timer);
    }
    timer.observe(durationMs / 1000);
  }

  streamEnded(method: string, code: string, durationMs: number): void {
    this.streamDuration.observe({ method: this.methods.of(method), code }, durationMs / 1000);
  }

  storeOperation(operation: StoreOperation, durationMs: number, failed: boolean): void {
    const outcome = failed ? 'error' : 'ok';
    const timers = this.storeTimers[outcome];
    let timer = timers.get(operation);
    if (!timer) {
      timer = this.storeDuration.labels({ operation, outcome });
      timers.set(operation, timer);
    }
    timer.observe(durationMs / 1000);
  }

  eventRelayed(lagMs: number): void {
    // Clocks of two processes (the writer's and the relaying sweep's) may disagree by a little.
    this.relayLag.observe(Math.max(0, lagMs) / 1000);
  }

  outboxBacklog(events: number): void {
    this.outboxEvents.set(events);
  }

  jobStarted(type: string, queueWaitMs: number): void {
    this.queueWait.observe({ type: this.jobTypes.of(type) }, Math.max(0, queueWaitMs) / 1000);
  }

  jobRetried(type: string, reason: AttemptFailure): void {
    this.retries.inc({ type: this.jobTypes.of(type), reason });
  }

  jobTimedOut(type: string): void {
    this.timeouts.inc({ type: this.jobTypes.of(type) });
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(name: string, help: string, labelNames: L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}

/** The values one label has taken, up to MAX_LABEL_VALUES; later new values read OVERFLOW_LABEL. */
class BoundedLabel {
  private readonly seen = new Set<string>();

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= MAX_LABEL_VALUES) return OVERFLOW_LABEL;
    this.seen.add(value);
    return value;
  }
}
