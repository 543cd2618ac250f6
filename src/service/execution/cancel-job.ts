import type { CancelJobCommand } from '../../domain/commands.js';
import { requireOwnerOrAdmin, requireRole } from '../../domain/access.js';
import { failedPrecondition, invalidArgument, jobName } from '../../domain/errors.js';
import { cancelled } from '../../domain/execution.js';
import { isTerminal, type JobRecord } from '../../domain/job.js';
import type { JobView } from '../../domain/job-view.js';
import type { Principal } from '../../domain/principal.js';
import { Violations } from '../../domain/validation.js';
import { readableJob } from '../job-queries.js';
import type { ServiceDependencies } from '../provenance-service.js';
import { viewJob } from '../views.js';
import { settle } from './settlement.js';

const WRITE_ATTEMPTS = 3;

/**
 * CancelJob: a queued or waiting job is cancelled; a running one is cancelled
 * and its handler aborted wherever it runs. The record is written first, so a
 * worker that finishes afterwards cannot overwrite it. Waiting descendants
 * then fail with DEPENDENCY_FAILED.
 */
export async function cancelJob(deps: ServiceDependencies, principal: Principal, command: CancelJobCommand): Promise<JobView> {
  requireRole(principal, 'submitter', 'CancelJob');
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  v.maxLength('reason', command.reason, 1024);
  if (v.list.length > 0) throw invalidArgument(v.list);
  for (let attempt = 1; ; attempt++) {
    const job = await readableJob(deps, principal, command.jobId);
    requireOwnerOrAdmin(principal, job, 'CancelJob');
    if (job.origin !== 'SUBMITTED') throw cannotCancel(job, 'it was recorded, not submitted: the service does not run it');
    if (isTerminal(job.status)) throw cannotCancel(job, `it is already ${job.status}`);
    const record = cancelled(job, command.reason || `cancelled by ${principal.subject}`, deps.now());
    if (await deps.store.replaceJob(record, job.etag)) {
      await abortInQueue(deps, job.jobId);
      await settle(deps, record);
      return viewJob(deps, principal, record);
    }
    // The job moved on (a worker claimed it) between the read and the write: decide again.
    if (attempt === WRITE_ATTEMPTS) throw cannotCancel(job, 'it keeps changing; retry');
  }
}

async function abortInQueue(deps: ServiceDependencies, jobId: string): Promise<void> {
  try {
    await deps.queue.cancel(jobId);
  } catch (error) {
    // The record says CANCELLED: no worker will start it, and a running one's result will not be written.
    deps.log.warn({ err: error, jobId }, 'could not reach the queue to abort a cancelled job');
  }
}

function cannotCancel(job: JobRecord, why: string) {
  return failedPrecondition(`job ${job.jobId} cannot be cancelled: ${why}`, 'NOT_CANCELLABLE', [
    { type: 'NOT_CANCELLABLE', subject: jobName(job.jobId), description: why },
  ]);
}
