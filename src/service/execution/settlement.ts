import { dependencyFailure, failed, queued, startingStatus, waitingDescendantsToFail } from '../../domain/execution.js';
import type { JobRecord } from '../../domain/job.js';
import { StepSizes } from '../../domain/step-sizes.js';
import { nextTurn } from '../next-turn.js';
import type { ServiceDependencies } from '../provenance-service.js';

const CHILD_PAGE = 500;

/** The most WAITING descendants of a failed job failed in one write; fewer when the last write took longer than its budget (StepSizes). */
export const FAIL_STEP = 500;
/** The fewest: the first write, and every write on a machine too busy to do more within the budget. */
const LEAST_FAIL_STEP = 20;

/**
 * What a job reaching a terminal status means for the jobs that wait on it:
 * success releases the children whose parents have now all succeeded; failure
 * or cancellation fails the WAITING jobs downstream with DEPENDENCY_FAILED.
 * Driven by the completion itself, never by polling.
 */
export async function settle(deps: ServiceDependencies, job: JobRecord): Promise<void> {
  if (job.status === 'SUCCEEDED') await releaseWaitingChildren(deps, job.jobId);
  else if (job.status === 'FAILED' || job.status === 'CANCELLED') await failWaitingDescendants(deps, job);
}

async function releaseWaitingChildren(deps: ServiceDependencies, parentId: string): Promise<void> {
  for (let after: string | undefined; ; ) {
    const children = await deps.store.listChildren(parentId, CHILD_PAGE, after);
    await releaseIfReady(
      deps,
      children.filter((child) => child.status === 'WAITING'),
    );
    if (children.length < CHILD_PAGE) return;
    after = children[children.length - 1]!.jobId;
  }
}

/**
 * Queues each WAITING job whose parents have all succeeded, and fails those
 * with a failed or cancelled parent. Safe to run twice for the same job: the
 * compare-and-set lets one writer through, and enqueueing is idempotent.
 */
export async function releaseIfReady(deps: ServiceDependencies, waiting: readonly JobRecord[]): Promise<void> {
  if (waiting.length === 0) return;
  const parents = new Map((await deps.store.getJobs([...new Set(waiting.flatMap((w) => w.parentIds))])).map((p) => [p.jobId, p]));
  const ready: JobRecord[] = [];
  const failedParents = new Map<string, JobRecord>();
  for (const job of waiting) {
    const start = startingStatus(job.parentIds.flatMap((id) => parents.get(id) ?? []));
    if ('failedParents' in start) for (const parent of start.failedParents) failedParents.set(parent.jobId, parent);
    else if (start.status === 'QUEUED' && job.parentIds.every((id) => parents.has(id))) ready.push(job);
  }
  const now = deps.now();
  const applied = await deps.store.replaceJobs(ready.map((job) => ({ record: queued(job, now), expectedEtag: job.etag })));
  const released = ready.filter((_, i) => applied[i]).map((job) => job.jobId);
  // The records say QUEUED; the repair sweep enqueues what the queue refused once it is back.
  const refusals = released.length === 0 ? [] : await deps.queue.enqueueAll(released).catch((error: unknown) => released.map(() => error));
  refusals.forEach((error, i) => {
    if (error) deps.log.warn({ err: error, jobId: released[i] }, 'could not enqueue a released job; the repair sweep will');
  });
  for (const parent of failedParents.values()) await failWaitingDescendants(deps, parent);
}

/**
 * Fails the WAITING jobs downstream of a failed or cancelled job, by bulk
 * compare-and-sets of about STEP_BUDGET_MS each (20 to FAIL_STEP jobs,
 * StepSizes) with a turn of the event loop between: one write of 20,000
 * children held every other call for seconds (docs/decisions.md, "Large
 * invalidations, in steps"). Each job's write stands alone; the repair
 * sweep fails those a crash left WAITING.
 */
export async function failWaitingDescendants(deps: ServiceDependencies, cause: JobRecord): Promise<JobRecord[]> {
  const rows = await deps.store.lineage({ rootId: cause.jobId, direction: 'DESCENDANTS', projection: 'FULL' });
  const doomed = new Set(waitingDescendantsToFail(cause.jobId, rows));
  const records = rows.filter((row) => doomed.has(row.jobId)).map((row) => row.record!);
  const now = deps.now();
  const failures: JobRecord[] = [];
  const steps = new StepSizes(LEAST_FAIL_STEP, FAIL_STEP);
  for (let from = 0; from < records.length; ) {
    if (from > 0) await nextTurn();
    // The event loop's busy time, not the time the write took: a store that writes over the network (MongoDB) holds the loop only briefly.
    const before = performance.eventLoopUtilization();
    const updates = records.slice(from, from + steps.next).map((record) => ({ record: failed(record, dependencyFailure(cause), now), expectedEtag: record.etag }));
    const applied = await deps.store.replaceJobs(updates);
    for (let i = 0; i < updates.length; i++) if (applied[i]) failures.push(updates[i]!.record);
    steps.took(updates.length, performance.eventLoopUtilization(before).active);
    from += updates.length;
  }
  return failures;
}
