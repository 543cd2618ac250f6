import type { JobOrigin, JobStatus } from '../job.js';
import type { ProvenanceStore } from './provenance-store.js';

/**
 * What the service and the transport count and time, in their own words.
 * Adapter: metrics/prometheus-metrics (prom-client, served at /metrics);
 * NO_METRICS where nobody reads them (tests that do not look). Every method is cheap and never throws: measuring must not fail a call.
 */
export interface Metrics {
  /** A provenance record was written for the first time. */
  jobCreated(type: string, origin: JobOrigin): void;
  /** A record reached a terminal status; durationMs when the record has one (start and completion known). */
  jobCompleted(type: string, origin: JobOrigin, status: JobStatus, durationMs: number | undefined): void;
  /** A worker looked for a reusable result of a job. */
  cacheLookup(result: 'hit' | 'miss'): void;
  /** An invalidation made this many jobs STALE (the job itself included when it was invalidated). */
  invalidated(jobCount: number): void;
  reproducibilityChecked(outcome: 'reproducible' | 'not_reproducible'): void;
  /** A GetLineage answer: how long the service took, and how many nodes it holds (the root excluded). */
  lineageAnswered(durationMs: number, nodeCount: number): void;
  /** Events handed to WatchEvents subscribers. */
  eventsDelivered(count: number): void;
  /** Events queued for a subscriber that ended before it got them (too slow, stream lost, shutdown). */
  eventsDropped(count: number): void;
  /** A unary gRPC call ended with this status code name (OK, NOT_FOUND, ...). */
  callEnded(method: string, code: string, durationMs: number): void;
  /** A server-streaming gRPC call (WatchEvents) ended: it lasts as long as its subscription, minutes to days, so it is timed apart from the unary calls. */
  streamEnded(method: string, code: string, durationMs: number): void;
  /** A call of the store port took this long; failed when it rejected. */
  storeOperation(operation: StoreOperation, durationMs: number, failed: boolean): void;
  /** An event reached the event log this long after the write that committed it to its record's outbox. */
  eventRelayed(lagMs: number): void;
  /** The relay sweep ended with this many events still in outboxes (the event log could not take them). */
  outboxBacklog(events: number): void;
  /** A worker claimed a job that had waited this long in QUEUED since it was (re-)queued. */
  jobStarted(type: string, queueWaitMs: number): void;
  /** An attempt failed with retries left: the queue runs the job again after its backoff. */
  jobRetried(type: string, reason: AttemptFailure): void;
  /** An attempt ran past the job timeout (PROVENANCE_JOB_TIMEOUT_MS), whether or not a retry follows. */
  jobTimedOut(type: string): void;
}

/** Why an attempt failed: the handler threw (or returned what is not JSON), or the timeout aborted it. */
export type AttemptFailure = 'handler_error' | 'timeout';

/** The methods of the ProvenanceStore port, each timed by its name. */
export type StoreOperation = Exclude<keyof ProvenanceStore, 'close'>;

/** Counts nothing. */
export const NO_METRICS: Metrics = {
  jobCreated: () => {},
  jobCompleted: () => {},
  cacheLookup: () => {},
  invalidated: () => {},
  reproducibilityChecked: () => {},
  lineageAnswered: () => {},
  eventsDelivered: () => {},
  eventsDropped: () => {},
  callEnded: () => {},
  streamEnded: () => {},
  storeOperation: () => {},
  eventRelayed: () => {},
  outboxBacklog: () => {},
  jobStarted: () => {},
  jobRetried: () => {},
  jobTimedOut: () => {},
};
