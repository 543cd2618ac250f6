import type { JsonObject } from './json.js';
import type { CacheState, JobError, JobRecord, JobStatus } from './job.js';

/**
 * The part of a record that changes after its insert, as the stores' history
 * keeps it (docs/decisions.md, "As of a time"): everything but what a job
 * is (type, payload, provider, parents, tenant, owner, creation), which
 * never changes, the outbox, and the readers (who may see a job is decided
 * by its current readers, whatever the time asked for). The result's output
 * is not kept again: a result is written once, with the terminal SUCCEEDED
 * status, and never changes after, so the current record's output is the
 * output of every state that has the result.
 */
export interface JobState {
  status: JobStatus;
  cacheState: CacheState;
  result?: { outputHash: string; cached: boolean; cachedFromJobId?: string };
  error?: JobError;
  startedAt?: Date;
  completedAt?: Date;
  updatedAt: Date;
  durationMs?: number;
  attempt: number;
  labels: Record<string, string>;
  metadata: JsonObject;
  etag: string;
  eventSeq?: number;
}

/** One change of a record: its state from `at` on (until the job's next entry). */
export interface JobHistoryEntry {
  jobId: string;
  at: Date;
  state: JobState;
}

/** The time a write's history entry takes: an insert counts from the record's creation, every later write from its updatedAt. */
export function historyEntry(record: JobRecord, write: 'INSERT' | 'REPLACE'): JobHistoryEntry {
  return { jobId: record.jobId, at: write === 'INSERT' ? record.createdAt : record.updatedAt, state: stateOf(record) };
}

export function stateOf(record: JobRecord): JobState {
  const state: JobState = {
    status: record.status,
    cacheState: record.cacheState,
    updatedAt: record.updatedAt,
    attempt: record.attempt,
    labels: record.labels,
    metadata: record.metadata,
    etag: record.etag,
  };
  if (record.result) {
    const { outputHash, cached, cachedFromJobId } = record.result;
    state.result = { outputHash, cached, ...(cachedFromJobId === undefined ? {} : { cachedFromJobId }) };
  }
  if (record.error) state.error = record.error;
  if (record.startedAt) state.startedAt = record.startedAt;
  if (record.completedAt) state.completedAt = record.completedAt;
  if (record.durationMs !== undefined) state.durationMs = record.durationMs;
  if (record.eventSeq !== undefined) state.eventSeq = record.eventSeq;
  return state;
}

/** The record as it was in that state: what the job is, and its readers, from the current record; everything else from the state; no outbox. */
export function recordAsOf(current: JobRecord, state: JobState): JobRecord {
  const {
    result: _result,
    error: _error,
    startedAt: _startedAt,
    completedAt: _completedAt,
    durationMs: _durationMs,
    eventSeq: _eventSeq,
    pendingEvents: _pendingEvents,
    ...unchanging
  } = current;
  const { result, ...changing } = state;
  const record: JobRecord = { ...unchanging, ...changing };
  if (result) {
    const output = current.result?.outputHash === result.outputHash ? current.result.output : undefined;
    record.result = { ...result, ...(output === undefined ? {} : { output }) };
  }
  return record;
}

/** The JSON text of a state, as the stores keep it; Dates as ISO 8601 strings. */
export function encodeJobState(state: JobState): string {
  return JSON.stringify(state);
}

export function decodeJobState(text: string): JobState {
  const state = JSON.parse(text) as JobState & Record<(typeof STATE_DATES)[number], string | Date | undefined>;
  for (const field of STATE_DATES) {
    if (state[field] !== undefined) state[field] = new Date(state[field]);
  }
  return state;
}

const STATE_DATES = ['startedAt', 'completedAt', 'updatedAt'] as const;

/** Of a job's entries, the state at asOf: that of the latest entry at or before it (later written first among entries of one time); undefined when none is. */
export function stateAt(entries: ReadonlyArray<{ at: Date; state: JobState }>, asOf: Date): JobState | undefined {
  let latest: { at: Date; state: JobState } | undefined;
  for (const entry of entries) {
    if (entry.at.getTime() <= asOf.getTime() && (latest === undefined || entry.at.getTime() >= latest.at.getTime())) latest = entry;
  }
  return latest?.state;
}
