import type { InvalidateCacheCommand } from '../../domain/commands.js';
import { ProvenanceError, invalidArgument } from '../../domain/errors.js';
import { invalidated } from '../../domain/execution.js';
import { compareCodeUnits } from '../../domain/hashing.js';
import { descendantDepths } from '../../domain/lineage.js';
import type { Principal } from '../../domain/principal.js';
import { Violations } from '../../domain/validation.js';
import { getJob } from '../job-queries.js';
import type { ServiceDependencies } from '../provenance-service.js';

export interface Invalidation {
  /** The job, then its descendants nearest first. */
  affectedJobIds: string[];
  dryRun: boolean;
}

/** InvalidateCache: the job and every descendant become STALE, found with one lineage query and marked with one bulk update. */
export async function invalidateCache(deps: ServiceDependencies, principal: Principal, command: InvalidateCacheCommand): Promise<Invalidation> {
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const job = await getJob(deps, principal, command.jobId);
  const affectedJobIds = [job.jobId, ...(await descendantsNearestFirst(deps, job.jobId))];
  if (!command.dryRun) await recordInvalidation(deps, job.jobId, affectedJobIds);
  return { affectedJobIds, dryRun: command.dryRun };
}

/** Makes the descendants of a job STALE (not the job itself): its output changed under them. */
export async function invalidateDescendants(deps: ServiceDependencies, jobId: string): Promise<string[]> {
  const descendants = await descendantsNearestFirst(deps, jobId);
  if (descendants.length > 0) await recordInvalidation(deps, jobId, descendants);
  return descendants;
}

const WRITE_ATTEMPTS = 5;

/**
 * First the job's record takes the cache.invalidated event (and its own
 * STALE state when it is invalidated), then the other jobs are marked STALE
 * in one bulk update. The event relay marks them again before it publishes
 * (see EventRelay), so a crash between the two writes cannot publish an
 * invalidation that did not happen, nor lose one that did.
 */
async function recordInvalidation(deps: ServiceDependencies, jobId: string, invalidatedJobIds: readonly string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const [current] = await deps.store.getJobs([jobId]);
    if (await deps.store.replaceJob(invalidated(current!, invalidatedJobIds, deps.now()), current!.etag)) break;
    if (attempt === WRITE_ATTEMPTS) throw new ProvenanceError('ABORTED', `job ${jobId} keeps changing; retry the invalidation`, 'CONCURRENT_WRITE');
  }
  const others = invalidatedJobIds.filter((id) => id !== jobId);
  if (others.length > 0) await deps.store.markStale(others, deps.now());
}

async function descendantsNearestFirst(deps: ServiceDependencies, jobId: string): Promise<string[]> {
  const rows = await deps.store.lineage({ rootId: jobId, direction: 'DESCENDANTS', projection: 'IDS' });
  const depths = descendantDepths({ jobId, parentIds: [] }, rows);
  return [...depths.keys()].sort((a, b) => depths.get(a)! - depths.get(b)! || compareCodeUnits(a, b));
}
