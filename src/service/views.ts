import type { JobAccess, ReadableBy } from '../domain/access.js';
import type { JobRecord } from '../domain/job.js';
import { JobViewer, referencedJobIds, type JobView, type KnownJobs } from '../domain/job-view.js';
import type { Principal } from '../domain/principal.js';
import type { ServiceDependencies } from './provenance-service.js';

export function viewerOf(deps: ServiceDependencies, principal: Principal): JobViewer {
  return new JobViewer(principal, deps.secret);
}

/** The access of every id in ids: from the jobs in hand (records, lineage rows), and one store read of the others' access (those it does not find have no job). */
export async function knownJobs(deps: ServiceDependencies, ids: Iterable<string>, inHand: Iterable<JobAccess> = []): Promise<KnownJobs> {
  const known = new Map<string, ReadableBy | undefined>();
  for (const job of inHand) known.set(job.jobId, job);
  const wanted = [...new Set(ids)].filter((id) => !known.has(id));
  if (wanted.length === 0) return known;
  for (const job of await deps.store.getAccess(wanted)) known.set(job.jobId, job);
  for (const id of wanted) if (!known.has(id)) known.set(id, undefined);
  return known;
}

/** Records the caller may read, as it may see them: with what the ids they name are looked up in one store read. */
export async function viewJobs(deps: ServiceDependencies, principal: Principal, records: readonly JobRecord[], inHand: Iterable<JobAccess> = []): Promise<JobView[]> {
  if (records.length === 0) return [];
  const known = await knownJobs(deps, records.flatMap(referencedJobIds), [...records, ...inHand]);
  const viewer = viewerOf(deps, principal);
  return records.map((record) => viewer.job(record, known));
}

export async function viewJob(deps: ServiceDependencies, principal: Principal, record: JobRecord, inHand: Iterable<JobAccess> = []): Promise<JobView> {
  return (await viewJobs(deps, principal, [record], inHand))[0]!;
}
