import type { InvalidateCacheCommand } from '../../domain/commands.js';
import { invalidArgument } from '../../domain/errors.js';
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
  if (!command.dryRun) await deps.store.markStale(affectedJobIds, deps.now());
  return { affectedJobIds, dryRun: command.dryRun };
}

/** Makes the descendants of a job STALE (not the job itself): its output changed under them. */
export async function invalidateDescendants(deps: ServiceDependencies, jobId: string): Promise<string[]> {
  const descendants = await descendantsNearestFirst(deps, jobId);
  if (descendants.length > 0) await deps.store.markStale(descendants, deps.now());
  return descendants;
}

async function descendantsNearestFirst(deps: ServiceDependencies, jobId: string): Promise<string[]> {
  const rows = await deps.store.lineage({ rootId: jobId, direction: 'DESCENDANTS', projection: 'IDS' });
  const depths = descendantDepths({ jobId, parentIds: [] }, rows);
  return [...depths.keys()].sort((a, b) => depths.get(a)! - depths.get(b)! || compareCodeUnits(a, b));
}
