import type { ListJobsCommand } from '../domain/commands.js';
import { readable, readerGrant } from '../domain/access.js';
import { invalidArgument } from '../domain/errors.js';
import type { JobRecord } from '../domain/job.js';
import type { JobView } from '../domain/job-view.js';
import { parseJobFilter } from '../domain/job-filter.js';
import { itemsWithin, type PageBytes } from '../domain/page-bytes.js';
import { decodePageToken, encodePageToken } from '../domain/page-token.js';
import type { Principal } from '../domain/principal.js';
import { Violations, effectivePageSize } from '../domain/validation.js';
import { jobAsOf } from './as-of.js';
import type { ServiceDependencies } from './provenance-service.js';
import { viewJob, viewJobs } from './views.js';

/** The record of a job the caller may read, for the use cases to act on; any other is NOT_FOUND, as if it did not exist. */
export async function readableJob(deps: ServiceDependencies, principal: Principal, jobId: string | undefined): Promise<JobRecord> {
  const v = new Violations();
  v.jobId('job_id', jobId, true);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const [job] = await deps.store.getJobs([jobId!]);
  return readable(principal, jobId!, job);
}

/** GetJob: the job as the caller may see it; with asOf, as it was then (NOT_FOUND if created after). */
export async function getJob(deps: ServiceDependencies, principal: Principal, jobId: string | undefined, asOf?: Date): Promise<JobView> {
  const v = new Violations();
  v.jobId('job_id', jobId, true);
  v.timestamp('as_of', asOf);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const job = await readableJob(deps, principal, jobId);
  return viewJob(deps, principal, asOf ? await jobAsOf(deps, job, asOf) : job);
}

export interface JobPage {
  jobs: JobView[];
  nextPageToken: string;
}

export async function listJobs(deps: ServiceDependencies, principal: Principal, command: ListJobsCommand, pageBytes?: PageBytes<JobView>): Promise<JobPage> {
  const v = new Violations();
  v.nonNegative('page_size', command.pageSize);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const filter = parseJobFilter(command.filter);
  const query = { method: 'ListJobs', tenant: principal.tenant, subject: principal.subject, filter: command.filter ?? '' };
  const position = command.pageToken ? decodePageToken(command.pageToken, query, deps.secret) : undefined;
  if (position && (typeof position.createdAt !== 'number' || typeof position.jobId !== 'string')) {
    throw invalidArgument([{ field: 'page_token', description: 'is not a page token this service issued' }]);
  }
  const pageSize = effectivePageSize(command.pageSize);
  const jobs = await deps.store.listJobs({
    reader: { tenant: principal.tenant, grant: readerGrant(principal) },
    filter,
    limit: pageSize + 1,
    after: position ? { createdAt: new Date(position.createdAt as number), jobId: position.jobId as string } : undefined,
  });
  const page = jobs.slice(0, pageSize);
  const views = await viewJobs(deps, principal, page);
  const kept = itemsWithin(views, pageBytes);
  // Every job read (one more than the page was asked for) fits: this is the last page.
  if (kept === jobs.length) return { jobs: views, nextPageToken: '' };
  const last = page[kept - 1]!;
  return { jobs: views.slice(0, kept), nextPageToken: encodePageToken(query, { createdAt: last.createdAt.getTime(), jobId: last.jobId }, deps.secret) };
}
