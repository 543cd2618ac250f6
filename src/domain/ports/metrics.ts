import type { JobOrigin, JobStatus } from '../job.js';

/**
 * What the service and the transport count and time, in their own words.
 * Adapter: metrics/prometheus-metrics (prom-client, served at /metrics);
 * NO_METRICS where nobody reads them (worker processes, tests that do not
 * look). Every method is cheap and never throws: measuring must not fail a call.
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
  /** A gRPC call ended with this status code name (OK, NOT_FOUND, ...). */
  callEnded(method: string, code: string, durationMs: number): void;
}

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
};
