import { compareJobsInSteps, type JobComparison } from '../domain/comparison.js';
import { invalidArgument } from '../domain/errors.js';
import type { JobRecord } from '../domain/job.js';
import type { JobViewer } from '../domain/job-view.js';
import { buildLineageInSteps } from '../domain/lineage.js';
import type { Principal } from '../domain/principal.js';
import { Violations } from '../domain/validation.js';
import { readableJob } from './job-queries.js';
import { inTurns } from './next-turn.js';
import type { ServiceDependencies } from './provenance-service.js';
import { knownJobs, viewerOf } from './views.js';

export interface CompareJobsCommand {
  leftJobId: string;
  rightJobId: string;
}

/** CompareJobs: both jobs must be readable by the caller (NOT_FOUND otherwise); each ancestry is walked within the lineage limits. */
export async function compareJobs(deps: ServiceDependencies, principal: Principal, command: CompareJobsCommand): Promise<JobComparison> {
  const v = new Violations();
  v.jobId('left_job_id', command.leftJobId, true);
  v.jobId('right_job_id', command.rightJobId, true);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const [left, right] = await Promise.all([readableJob(deps, principal, command.leftJobId), readableJob(deps, principal, command.rightJobId)]);
  const viewer = viewerOf(deps, principal);
  const [leftAncestry, rightAncestry] = await Promise.all([ancestry(deps, left, viewer), ancestry(deps, right, viewer)]);
  const ancestors = new Map<string, JobRecord>([...leftAncestry.records, ...rightAncestry.records]);
  // Parents past the lineage limits, or with no record, are looked up in one store read: who may read them decides how they are shown.
  const named = [left, right, ...ancestors.values()].flatMap((record) => record.parentIds);
  const known = await knownJobs(deps, named, [left, right, ...ancestors.values()]);
  // Comparing two large ancestries takes a while: other calls run between its steps.
  return inTurns(compareJobsInSteps({
    left,
    right,
    ancestors,
    known,
    ancestryTruncated: leftAncestry.truncated || rightAncestry.truncated,
    maxAncestorPairs: deps.limits.maxLineageNodes,
    volatileKeys: deps.limits.volatileKeys,
    viewer,
  }));
}

/** A job's ancestors within PROVENANCE_MAX_LINEAGE_DEPTH and PROVENANCE_MAX_LINEAGE_NODES (cut as the caller is shown them: domain/shown-order.ts), whole, by id. */
async function ancestry(deps: ServiceDependencies, job: JobRecord, viewer: JobViewer): Promise<{ records: Array<[string, JobRecord]>; truncated: boolean }> {
  const limits = { maxDepth: deps.limits.maxLineageDepth, maxNodes: deps.limits.maxLineageNodes };
  const query = { rootId: job.jobId, direction: 'ANCESTORS', maxDepth: limits.maxDepth + 1, projection: 'FULL', nearest: limits.maxNodes + 1, shownTo: viewer.shownTo } as const;
  const found = await deps.store.lineage(query);
  const root = { jobId: job.jobId, parentIds: job.parentIds, tenant: job.tenant, readers: job.readers, record: job };
  const lineage = await inTurns(buildLineageInSteps(root, { ancestors: found }, limits, undefined, viewer));
  return { records: lineage.nodes.map((node): [string, JobRecord] => [node.row.jobId, node.row.record!]), truncated: lineage.truncation.length > 0 };
}
