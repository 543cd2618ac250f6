import { JobStatus, ProvenanceClient } from '@provenance/client';
import type { GraphJob } from './graph.js';

export const RECORD_BATCH = 1000;

/** The RecordJob request of a graph job: a finished job with a small payload and an output hash. */
export function graphRecord(job: GraphJob) {
  return {
    jobId: job.jobId,
    type: 'bench.step',
    payload: { step: job.jobId },
    parentJobIds: job.parentIds,
    status: JobStatus.JOB_STATUS_SUCCEEDED,
    outputHash: `sha256:${job.jobId}`,
  };
}

/**
 * Records the jobs through BatchRecordJobs, in batches of RECORD_BATCH, one
 * after the other: a batch names parents of the one before, which must be
 * stored first. Throws on the first record refused.
 */
export async function recordGraph(address: string, jobs: readonly GraphJob[]): Promise<void> {
  const client = new ProvenanceClient({ address, timeoutMs: 120_000 });
  try {
    for (let next = 0; next < jobs.length; next += RECORD_BATCH) {
      const response = await client.batchRecordJobs({ requests: jobs.slice(next, next + RECORD_BATCH).map(graphRecord) });
      const refused = response.results.find((r) => r.status && r.status.code !== 0);
      if (refused) throw new Error(`BatchRecordJobs refused a record: ${refused.status!.message}`);
    }
  } finally {
    client.close();
  }
}
