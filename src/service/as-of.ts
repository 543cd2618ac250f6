import { failedPrecondition, jobName, jobNotFound, type ProvenanceError } from '../domain/errors.js';
import type { ReadableBy } from '../domain/access.js';
import { recordAsOf, type JobState } from '../domain/job-history.js';
import type { JobRecord } from '../domain/job.js';
import type { LineageDirection, LineageRow } from '../domain/lineage.js';
import type { ServiceDependencies } from './provenance-service.js';

/**
 * The answers "as of a time" (docs/decisions.md, "As of a time"): the jobs
 * created by then, each in its state then, read from the store's history in
 * one call. Who may see a job is decided by its current record, never by a
 * state of the past: the rows keep their current tenant and readers.
 */

/** A time to answer as of, and who asks: a job the caller may not read is not dated (rowsAsOf). */
export interface AsOf {
  time: Date;
  mayRead(job: ReadableBy): boolean;
}

/**
 * How many times PROVENANCE_MAX_LINEAGE_NODES jobs of today's graph an as-of
 * walk reads at most, per direction: the store cannot cut it to the nearest
 * jobs (jobs created later may be among them), so this bounds what it reads.
 */
export const AS_OF_WALK_FACTOR = 4;

/** A lineage too large today, within the depth asked for, to be walked as of a time (AS_OF_WALK_FACTOR). */
export function asOfLineageTooLarge(rootId: string, direction: LineageDirection, readLimit: number): ProvenanceError {
  const description = `the ${direction.toLowerCase()} of job ${rootId} within max_depth + 1 are more than ${readLimit} jobs today (${AS_OF_WALK_FACTOR} × PROVENANCE_MAX_LINEAGE_NODES): as of a time, ask for a smaller max_depth`;
  return failedPrecondition(description, 'AS_OF_LINEAGE_TOO_LARGE', [{ type: 'AS_OF_LINEAGE_TOO_LARGE', subject: jobName(rootId), description }]);
}

/** The job as it was at asOf; NOT_FOUND, as for a job that does not exist, when it was created after. */
export async function jobAsOf(deps: ServiceDependencies, job: JobRecord, asOf: Date): Promise<JobRecord> {
  const states = await deps.store.statesAsOf([job.jobId], asOf);
  if (!states.has(job.jobId)) throw jobNotFound(job.jobId);
  const state = states.get(job.jobId);
  return state ? recordAsOf(job, state) : job;
}

/**
 * Of the rows of a walk, those of the jobs created by asOf, with their type,
 * status, cache state and record (whichever the projection has) as they
 * were; and every job the caller may not read, as it is: its placeholder
 * shows nothing of its states, and keeping or leaving it out by its creation
 * time would tell that time to whoever bisects as_of.
 */
export async function rowsAsOf(deps: ServiceDependencies, rows: readonly LineageRow[], asOf: AsOf): Promise<LineageRow[]> {
  if (rows.length === 0) return [];
  const readable = rows.filter((row) => asOf.mayRead(row));
  const states = readable.length === 0 ? new Map<string, JobState | null>() : await deps.store.statesAsOf(readable.map((row) => row.jobId), asOf.time);
  const kept: LineageRow[] = [];
  for (const row of rows) {
    if (!asOf.mayRead(row)) {
      kept.push(row);
      continue;
    }
    if (!states.has(row.jobId)) continue;
    const state = states.get(row.jobId);
    if (!state) {
      kept.push(row);
      continue;
    }
    kept.push({
      ...row,
      ...(row.status === undefined ? {} : { status: state.status, cacheState: state.cacheState }),
      ...(row.record === undefined ? {} : { record: recordAsOf(row.record, state) }),
    });
  }
  return kept;
}
