import type { InvalidateCacheCommand } from '../../domain/commands.js';
import { ProvenanceError, invalidArgument } from '../../domain/errors.js';
import { invalidated } from '../../domain/execution.js';
import { compareCodeUnits } from '../../domain/hashing.js';
import { canRead, opaqueJobId, requireOwnerOrAdmin, requireRole } from '../../domain/access.js';
import { descendantDepths, type LineageRow } from '../../domain/lineage.js';
import type { Principal } from '../../domain/principal.js';
import { Violations } from '../../domain/validation.js';
import { getJob } from '../job-queries.js';
import type { ServiceDependencies } from '../provenance-service.js';

export interface Invalidation {
  /** The job, then its descendants nearest first; those the caller may not read under opaque ids. */
  affectedJobIds: string[];
  dryRun: boolean;
}

/**
 * InvalidateCache, for the job's owner or an admin: the job and every
 * descendant become STALE, found with one lineage query and marked with one
 * bulk update. Descendants in other tenants (which read the job's output)
 * become STALE too, and are reported under opaque ids.
 */
export async function invalidateCache(deps: ServiceDependencies, principal: Principal, command: InvalidateCacheCommand): Promise<Invalidation> {
  requireRole(principal, 'submitter', 'InvalidateCache');
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const job = await getJob(deps, principal, command.jobId);
  requireOwnerOrAdmin(principal, job, 'InvalidateCache');
  const rows = await deps.store.lineage({ rootId: job.jobId, direction: 'DESCENDANTS', projection: 'IDS' });
  const affected = [job.jobId, ...nearestFirst(job.jobId, rows)];
  if (!command.dryRun) await recordInvalidation(deps, job.jobId, affected);
  const byId = new Map(rows.map((row) => [row.jobId, row]));
  const shown = (id: string) => (id === job.jobId || canRead(principal, byId.get(id)!) ? id : opaqueJobId(id, deps.secret));
  return { affectedJobIds: affected.map(shown), dryRun: command.dryRun };
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
  deps.metrics.invalidated(invalidatedJobIds.length);
}

async function descendantsNearestFirst(deps: ServiceDependencies, jobId: string): Promise<string[]> {
  return nearestFirst(jobId, await deps.store.lineage({ rootId: jobId, direction: 'DESCENDANTS', projection: 'IDS' }));
}

function nearestFirst(jobId: string, descendants: readonly LineageRow[]): string[] {
  const depths = descendantDepths({ jobId, parentIds: [], tenant: '', readers: [] }, descendants);
  return [...depths.keys()].sort((a, b) => depths.get(a)! - depths.get(b)! || compareCodeUnits(a, b));
}
