import type { InvalidateCacheCommand } from '../../domain/commands.js';
import { ProvenanceError, invalidArgument, notFinished } from '../../domain/errors.js';
import { invalidated } from '../../domain/execution.js';
import { mayMakeStale, permissionDenied, requireRole, submitterOf } from '../../domain/access.js';
import { isTerminal, type JobRecord } from '../../domain/job.js';
import { descendantsNearestFirst, type LineageRow } from '../../domain/lineage.js';
import type { Principal } from '../../domain/principal.js';
import { Violations } from '../../domain/validation.js';
import { readableJob } from '../job-queries.js';
import { inTurns } from '../next-turn.js';
import type { ServiceDependencies } from '../provenance-service.js';
import { viewerOf } from '../views.js';
import type { JobViewer } from '../../domain/job-view.js';

/**
 * The most ids an InvalidateCache answer lists of each kind (affected,
 * skipped), nearest first; its counts count them all. A large invalidation
 * is told by its counts: a list of every job would outgrow what clients
 * receive (4 MiB by default, past about 100,000 ids) and take the serving
 * thread tens of milliseconds to build and encode. The audit entry names
 * as many (audit.ts).
 */
export const MAX_LISTED_INVALIDATIONS = 1000;

export interface Invalidation {
  /** The job, then the descendants the caller may make STALE, nearest first: the first MAX_LISTED_INVALIDATIONS. */
  affectedJobIds: string[];
  /** How many jobs were (on a dry run, would be) made STALE. */
  affectedCount: number;
  /**
   * The descendants the caller may not make STALE, left as they are, nearest first: the first
   * MAX_LISTED_INVALIDATIONS, those it may not read under opaque ids.
   */
  skippedJobIds: string[];
  /** How many descendants were left as they are. */
  skippedCount: number;
  dryRun: boolean;
}

/**
 * InvalidateCache, for those who may make the job STALE (its owner or an
 * admin of its tenant): the job and every descendant they may make STALE
 * too become STALE, found with one lineage query and marked in bulk
 * (recordInvalidation), then those that finished while it ran
 * (invalidateFinishedSince). The other descendants (another owner's, another
 * tenant's) are left as they are, and reported: both counted, and listed
 * up to MAX_LISTED_INVALIDATIONS.
 */
export async function invalidateCache(deps: ServiceDependencies, principal: Principal, command: InvalidateCacheCommand): Promise<Invalidation> {
  requireRole(principal, 'submitter', 'InvalidateCache');
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const job = await readableJob(deps, principal, command.jobId);
  if (!mayMakeStale(principal, job)) throw permissionDenied("InvalidateCache is for the job's owner or an admin of its tenant");
  // A worker (or its recorder) still writes the record: a write here would change its etag under that writer, whose result would be refused.
  if (!isTerminal(job.status)) throw notFinished(job.jobId, `job ${job.jobId} is ${job.status}: a result can be invalidated once the job has finished`);
  const viewer = viewerOf(deps, principal);
  const { within, outside } = await descendantsByAuthority(deps, principal, job.jobId, viewer);
  // Only results become STALE (markStale, invalidated): a job that did not succeed is not counted as affected.
  const affected = job.status === 'SUCCEEDED' ? [job.jobId, ...within] : within;
  if (!command.dryRun) {
    await recordInvalidation(deps, job.jobId, affected);
    affected.push(...(await invalidateFinishedSince(deps, principal, job.jobId, [...affected, ...outside.map((row) => row.jobId)])));
  }
  return {
    affectedJobIds: affected.slice(0, MAX_LISTED_INVALIDATIONS),
    affectedCount: affected.length,
    skippedJobIds: outside.slice(0, MAX_LISTED_INVALIDATIONS).map((row) => (viewer.mayRead(row) ? row.jobId : viewer.placeholder(row.jobId))),
    skippedCount: outside.length,
    dryRun: command.dryRun,
  };
}

/**
 * How many walks invalidateFinishedSince makes at most: each follows one
 * that found jobs finished during the walk before it, so that only a chain
 * of jobs finishing one after the other, each within a walk, goes on this
 * long; past it, the jobs that finish later are left as they are, and the
 * log says so.
 */
const MAX_WALKS_AFTER_MARKING = 20;

/**
 * After the SUCCEEDED descendants of jobId were looked at (seen: those
 * marked STALE, the job included when it was, and those principal may not
 * make STALE): the descendants that finished FRESH since the walk that
 * found them, marked too (with another cache.invalidated event on jobId),
 * walking again until a walk finds none; their ids, in the walk's order. A
 * job running during the walk was left out of it (it had no result yet) and
 * would otherwise keep an invalidated result FRESH: one that finishes after
 * the last walk finds its parent STALE when its worker checks
 * (builtOnStale), if the parent is of its tenant and owner (docs/decisions.md,
 * "Results built on stale ones"). Each job's record is read once, and only
 * those of principal's tenant: no other may be made STALE by it.
 */
export async function invalidateFinishedSince(deps: ServiceDependencies, principal: Principal, jobId: string, seen: readonly string[]): Promise<string[]> {
  const looked = new Set(seen);
  const added: string[] = [];
  for (let walk = 1; ; walk++) {
    const { found, markable } = await freshDescendants(deps, principal, jobId, looked);
    if (found.length === 0) break;
    if (walk > MAX_WALKS_AFTER_MARKING) {
      deps.log.warn({ jobId, walks: MAX_WALKS_AFTER_MARKING, leftFresh: found.length, jobIds: found.slice(0, MAX_LOGGED_IDS) }, 'descendants kept finishing during an invalidation: those finished after its last walk are left FRESH');
      break;
    }
    for (const id of found) looked.add(id);
    // Nothing to mark (another owner's jobs only, which another may keep recording): nothing marked since the walk, so no walk is owed.
    if (markable.length === 0) break;
    await recordInvalidation(deps, jobId, markable);
    added.push(...markable);
  }
  return added;
}

/**
 * A job made STALE because its result was built on a STALE one
 * (builtOnStale): it (unless written STALE already) and its SUCCEEDED
 * descendants that its owner may make STALE become STALE, as its owner's
 * InvalidateCache of it would have them: a job recorded before its parent
 * finished, or naming it before it existed, is one. Those still FRESH only:
 * a batch of records each made STALE on the one before must not mark every
 * later one again (a probe's 1,000-record chain wrote 506,496 history rows).
 */
export async function invalidateBuiltOnStale(deps: ServiceDependencies, job: JobRecord, itself: boolean): Promise<void> {
  const { markable } = await freshDescendants(deps, submitterOf(job), job.jobId, new Set());
  const jobIds = itself ? [job.jobId, ...markable] : markable;
  if (jobIds.length > 0) await recordInvalidation(deps, job.jobId, jobIds);
}

/**
 * The SUCCEEDED, FRESH descendants of jobId of principal's tenant (the only
 * ones it may make STALE), those in skip left out (found), and those of them
 * principal may make STALE (markable), both in the walk's order. Found by status and cache state;
 * whole records, for their owners, read for those found alone.
 */
async function freshDescendants(deps: ServiceDependencies, principal: Principal, jobId: string, skip: ReadonlySet<string>): Promise<{ found: string[]; markable: string[] }> {
  const rows = await deps.store.lineage({ rootId: jobId, direction: 'DESCENDANTS', projection: 'SUMMARY' });
  const found = rows.filter((row) => row.status === 'SUCCEEDED' && row.cacheState === 'FRESH' && row.tenant === principal.tenant && !skip.has(row.jobId)).map((row) => row.jobId);
  if (found.length === 0) return { found, markable: [] };
  const records = new Map((await deps.store.getJobs(found)).map((job) => [job.jobId, job]));
  const markable = found.filter((id) => {
    const job = records.get(id);
    return job !== undefined && job.status === 'SUCCEEDED' && job.cacheState === 'FRESH' && mayMakeStale(principal, job);
  });
  return { found, markable };
}

/** How many ids a log line of an invalidation names (it says how many there were). */
const MAX_LOGGED_IDS = 100;

/**
 * After a run whose output differs from the earlier result of the same
 * definition and inputs: the descendants of that earlier job (not the job
 * itself) that the run's submitter may make STALE (within). The others are
 * left as they are, and logged.
 */
export async function descendantsToInvalidate(deps: ServiceDependencies, runner: Principal, jobId: string, runJobId: string): Promise<{ within: string[]; outside: string[] }> {
  const { within, outside } = await descendantsByAuthority(deps, runner, jobId);
  if (outside.length > 0) {
    deps.log.info(
      { jobId, runJobId, leftAsTheyAre: outside.length, jobIds: outside.slice(0, MAX_LOGGED_IDS).map((row) => row.jobId) },
      "a rerun's output changed: the dependents its submitter may not make STALE are left as they are",
    );
  }
  return { within, outside: outside.map((row) => row.jobId) };
}

/** How many times an invalidation's write is tried, reading again the job another write changed in between. */
const WRITE_ATTEMPTS = 5;

/**
 * Writes a run's result (if the run's etag is still expectedEtag) and the
 * earlier job's record with the cache.invalidated event naming the jobs in
 * one transaction (replaceJobsTogether), so that a crash cannot take the
 * two apart: the relay of the two outboxes marks the jobs STALE before it
 * publishes the event, and after a crash the sweep's relay does. An earlier
 * job that changed in between is read again. Returns whether the result was
 * written: false when the run is no longer the writer's (cancelled), and
 * then nothing is. On MongoDB the result is written first, and an earlier
 * job that changed after it is invalidated on its own (recordInvalidation):
 * a crash between the two writes loses the invalidation there.
 */
export async function recordResultInvalidating(
  deps: ServiceDependencies,
  result: JobRecord,
  expectedEtag: string,
  jobId: string,
  invalidatedJobIds: readonly string[],
): Promise<boolean> {
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    const [current] = await deps.store.getJobs([jobId]);
    const [resultWritten, invalidationWritten] = await deps.store.replaceJobsTogether([
      { record: result, expectedEtag },
      { record: invalidated(current!, invalidatedJobIds, deps.now()), expectedEtag: current!.etag },
    ]);
    if (invalidationWritten) deps.metrics.invalidated(invalidatedJobIds.length);
    else if (resultWritten) await recordInvalidation(deps, jobId, invalidatedJobIds);
    if (resultWritten) return true;
    const [run] = await deps.store.getJobs([result.jobId]);
    if (run?.etag !== expectedEtag) return false;
  }
  throw new ProvenanceError('ABORTED', `job ${jobId} kept changing while job ${result.jobId} invalidated it; the queue retries the run`, 'CONCURRENT_WRITE');
}

/**
 * A job's SUCCEEDED descendants, nearest first (as viewer is shown them,
 * when given: domain/shown-order.ts): those the principal may make STALE
 * (by id), and the others. The rest have no result to make STALE
 * (markStale leaves them as they are), so they are neither.
 */
async function descendantsByAuthority(deps: ServiceDependencies, principal: Principal, jobId: string, viewer?: JobViewer): Promise<{ within: string[]; outside: LineageRow[] }> {
  // Whole records: the rule needs each job's owner and status.
  const rows = await deps.store.lineage({ rootId: jobId, direction: 'DESCENDANTS', projection: 'FULL' });
  const within: string[] = [];
  const outside: LineageRow[] = [];
  for (const row of await inTurns(descendantsNearestFirst(jobId, rows, viewer))) {
    if (row.record!.status !== 'SUCCEEDED') continue;
    if (mayMakeStale(principal, row.record!)) within.push(row.jobId);
    else outside.push(row);
  }
  return { within, outside };
}

/**
 * First the job's record takes the cache.invalidated event (and its own
 * STALE state when it is invalidated); then the event relay marks the other
 * jobs STALE in bulk before it publishes the event (see EventRelay), so a
 * crash between the two writes cannot publish an invalidation that did not
 * happen, nor lose one that did. When the relay left the event in the
 * outbox (the log or the database unreachable), the jobs are marked here:
 * a database that cannot be written fails the call, and the sweep's relay
 * marks them again before it publishes. Once, not twice: marking 50,000
 * jobs a second time doubled the call's writes and their history rows.
 */
export async function recordInvalidation(deps: ServiceDependencies, jobId: string, invalidatedJobIds: readonly string[]): Promise<void> {
  const now = deps.now();
  for (let attempt = 1; ; attempt++) {
    const [current] = await deps.store.getJobs([jobId]);
    const outcome = await deps.store.replaceJobRelaying(invalidated(current!, invalidatedJobIds, now), current!.etag);
    if (outcome === 'left in the outbox') {
      const others = invalidatedJobIds.filter((id) => id !== jobId);
      if (others.length > 0) await deps.store.markStale(others, now);
    }
    if (outcome !== 'refused') break;
    if (attempt === WRITE_ATTEMPTS) throw new ProvenanceError('ABORTED', `job ${jobId} keeps changing; retry the invalidation`, 'CONCURRENT_WRITE');
  }
  deps.metrics.invalidated(invalidatedJobIds.length);
}
