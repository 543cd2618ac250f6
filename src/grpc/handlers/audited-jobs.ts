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
