import { requireRole } from '../domain/access.js';
import type { SetReaderSubjectsCommand } from '../domain/commands.js';
import { ProvenanceError, invalidArgument, jobResource } from '../domain/errors.js';
import type { JobView } from '../domain/job-view.js';
import type { Principal } from '../domain/principal.js';
import { withReaderSubjects } from '../domain/recording.js';
import { validateSetReaderSubjects } from '../domain/validation.js';
import { readableJob } from './job-queries.js';
import type { ServiceDependencies } from './provenance-service.js';
import { viewJob } from './views.js';

const WRITE_ATTEMPTS = 3;

/**
 * SetReaderSubjects (the rule: domain/recording.ts, withReaderSubjects): read,
 * decide, write on the etag read. A write that loses to another (the relay
 * or an invalidation marking the job STALE, another SetReaderSubjects)
 * decides again on the record as it is then, so grants are never written
 * over a change they did not see; with the caller's etag, that decision is
 * ABORTED.
 */
export async function setReaderSubjects(deps: ServiceDependencies, principal: Principal, command: SetReaderSubjectsCommand): Promise<JobView> {
  requireRole(principal, 'submitter', 'SetReaderSubjects');
  const violations = validateSetReaderSubjects(command);
  if (violations.length > 0) throw invalidArgument(violations);
  for (let attempt = 1; ; attempt++) {
    const job = await readableJob(deps, principal, command.jobId);
    const update = withReaderSubjects(principal, job, command, deps.now());
    if (update.kind === 'unchanged') return viewJob(deps, principal, job);
    if (await deps.store.replaceJob(update.record, job.etag)) return viewJob(deps, principal, update.record);
    if (attempt === WRITE_ATTEMPTS) throw new ProvenanceError('ABORTED', `job ${job.jobId} keeps changing; retry`, 'CONCURRENT_WRITE', { resource: jobResource(job.jobId) });
  }
}
