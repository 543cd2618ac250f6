import type { JobRecord, JobStatus } from '../../domain/job.js';
import type { ServiceDependencies } from '../provenance-service.js';
import { releaseIfReady } from './settlement.js';
import { clearFailedEnqueue } from './submit-job.js';

const PAGE = 500;

/**
 * Makes the queue agree with the records again after anything that may have
 * broken the link between them: a crash between a write and an enqueue, a
 * Redis that restarted empty, a completion whose follow-up did not run.
 * QUEUED and RUNNING submitted jobs that the queue does not hold are enqueued
 * again (those whose enqueue SubmitJob could not do, marked ENQUEUE_FAILED,
 * among them); WAITING jobs whose parents have all finished are released or
 * failed. Runs when a worker starts, when the queue connection comes back,
 * and at PROVENANCE_REPAIR_INTERVAL_MS; the normal path never waits for it.
 */
export async function repairSweep(deps: ServiceDependencies): Promise<{ enqueued: number }> {
  let enqueued = 0;
  await eachPage(deps, ['QUEUED', 'RUNNING'], async (jobs) => {
    const held = await deps.queue.holding(jobs.map((job) => job.jobId));
    const missing = jobs.filter((job) => !held.has(job.jobId));
    if (missing.length === 0) return;
    const refusals = await deps.queue.enqueueAll(missing.map((job) => job.jobId));
    for (const [i, job] of missing.entries()) {
      if (refusals[i]) continue;
      await clearFailedEnqueue(deps, job);
      enqueued++;
    }
    // The sweep fails, as it did on the first refusal, once what the queue took is recorded: it runs again on the next trigger.
    const refused = refusals.find((error) => error !== undefined);
    if (refused) throw refused;
  });
  await eachPage(deps, ['WAITING'], (jobs) => releaseIfReady(deps, jobs));
  return { enqueued };
}

async function eachPage(deps: ServiceDependencies, statuses: JobStatus[], visit: (jobs: JobRecord[]) => Promise<void>): Promise<void> {
  for (let afterJobId: string | undefined; ; ) {
    const jobs = await deps.store.listByStatus({ origin: 'SUBMITTED', statuses, limit: PAGE, ...(afterJobId ? { afterJobId } : {}) });
    if (jobs.length > 0) await visit(jobs);
    if (jobs.length < PAGE) return;
    afterJobId = jobs[jobs.length - 1]!.jobId;
  }
}
