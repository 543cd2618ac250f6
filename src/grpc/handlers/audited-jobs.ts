import type { Job } from '@provenance/client/gen/provenance/v1/job';

/** What the handlers tell the audit trail about the jobs of a call (call.ts writes the entry). */

// An array, never spread into arguments: a request may name hundreds of thousands of ids, past the stack's limit on arguments.
export const ids = (values: ReadonlyArray<string | undefined>): string[] => values.filter((v): v is string => !!v);

/** The jobs an answer shows; restricted ones are named by nobody. */
export const jobIdsOf = (jobs: ReadonlyArray<Job | undefined>): string[] => jobs.flatMap((job) => (job && !job.restricted ? [job.jobId] : []));

export const tenantsOf = (jobs: ReadonlyArray<Job | undefined>): ReadonlyMap<string, string> =>
  new Map(jobs.flatMap((job) => (job && !job.restricted ? [[job.jobId, job.tenant] as const] : [])));

export const tenantOf = (job: Job): ReadonlyMap<string, string> => tenantsOf([job]);

/** Graph walks name their root only: the answer follows from it, and may run to tens of thousands of jobs (docs/decisions.md, Audit). */
export const rootOnly = (request: { jobId: string }): string[] => ids([request.jobId]);

/**
 * A batch's records, then the parents of those it recorded (a refused record
 * read nothing): its records come first under the cap of the caller's entry,
 * and the parents of other tenants reach their trails whatever the cap.
 */
export function recordedWithParents(requests: ReadonlyArray<{ parentJobIds: readonly string[] }>, results: ReadonlyArray<{ job?: Job | undefined }>): string[] {
  const named = jobIdsOf(results.map((r) => r.job));
  results.forEach((result, i) => {
    if (result.job) for (const parentId of requests[i]!.parentJobIds) named.push(parentId);
  });
  return named;
}
