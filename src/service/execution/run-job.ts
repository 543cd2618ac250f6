import { submitterOf } from '../../domain/access.js';
import { cacheKeySalt } from '../../domain/cache-salt.js';
import { REASONS, builtOnStale, claimed, failed, requeued, servedFromCache, succeeded, unreadableParent } from '../../domain/execution.js';
import type { JobRecord } from '../../domain/job.js';
import type { JsonValue } from '../../domain/json.js';
import type { QueueDelivery } from '../../domain/ports/job-queue.js';
import { Violations } from '../../domain/validation.js';
import type { ServiceDependencies } from '../provenance-service.js';
import { descendantsToInvalidate, invalidateBuiltOnStale, invalidateFinishedSince, recordResultInvalidating } from './invalidation.js';
import { settle } from './settlement.js';
import { groupCommit } from '../group-commit.js';

/** How many times a claim is tried again after losing its compare-and-set to a write that left the job QUEUED. */
const CLAIM_ATTEMPTS = 5;

/**
 * The delivered job, claimed (RUNNING, one more attempt), with its parents;
 * undefined when it is not this delivery's to run. A claim that loses its
 * compare-and-set looks again: a write that left the job QUEUED (the mark
 * of a refused enqueue cleared by whoever enqueued it, for one) must not
 * take the delivery away, or the job would wait for the next repair sweep
 * with nothing in the queue; a claim by another worker or a cancellation
 * shows in the record and ends it. A job whose submitter may no longer read
 * one of its parents is failed instead (PARENT_NOT_READABLE), before the
 * claim would write the input hash of their outputs, and before the cache
 * could serve it a result made from them.
 */
async function claimJob(deps: ServiceDependencies, jobId: string): Promise<{ running: JobRecord; parents: JobRecord[] } | undefined> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const [job] = await deps.store.getJobs([jobId]);
    if (!job || job.origin !== 'SUBMITTED') return undefined;
    // RUNNING on the first look is a delivery again after a worker stopped; after a lost claim, it is another worker's.
    if (job.status !== 'QUEUED' && !(job.status === 'RUNNING' && attempt === 0)) return undefined;
    const parents = job.parentIds.length === 0 ? [] : await deps.store.getJobs(job.parentIds);
    // Before the claim, which would write the input hash of outputs its submitter may no longer read.
    const outOfReach = unreadableParent(job, parents);
    if (outOfReach) {
      if (await finish(deps, job, failed(job, outOfReach, deps.now()))) return undefined;
      continue;
    }
    const running = claimed(job, parents, deps.now());
    // A job is queued only once every parent has succeeded, and a succeeded record never changes status.
    // The handler runs once the claim is written, without waiting for its events to reach the log (GroupCommit.claim).
    if (await groupCommit(deps.store).claim(running, job.etag)) {
      // A QUEUED record was last written when it was (re-)queued: its wait ends now.
      if (job.status === 'QUEUED') deps.metrics.jobStarted(job.type, running.startedAt!.getTime() - job.updatedAt.getTime());
      return { running, parents };
    }
  }
  throw new RetryableAttemptError(`job ${jobId} kept changing while it was being claimed`);
}

/** Thrown back to the queue so that it retries the delivery after its backoff. */
export class RetryableAttemptError extends Error {
  override readonly name = 'RetryableAttemptError';
}

/**
 * What a worker does with one delivery. The record decides: a job that is
 * gone, finished, cancelled or claimed by someone else is left alone, so a
 * delivery may safely come twice. Every write is a compare-and-set on the
 * etag read before, so that a cancellation or a second worker wins cleanly.
 */
export async function runDelivery(deps: ServiceDependencies, delivery: QueueDelivery): Promise<void> {
  const claim = await claimJob(deps, delivery.jobId);
  if (!claim) return;
  const { running, parents } = claim;

  if ((running.cachePolicy ?? 'USE') === 'USE') {
    const hit = await deps.store.findReusableResult({
      tenant: running.tenant,
      definitionHash: running.definitionHash,
      inputHash: running.inputHash,
      cacheKeySalt: cacheKeySalt(running),
      ...(deps.execution.cacheTtlMs > 0 ? { completedAfter: new Date(deps.now().getTime() - deps.execution.cacheTtlMs) } : {}),
      excludeJobId: running.jobId,
    });
    deps.metrics.cacheLookup(hit ? 'hit' : 'miss');
    if (hit) {
      await finish(deps, running, servedFromCache(running, hit, deps.now()));
      return;
    }
  }
  const handler = deps.handlers.find(running.type, running.provider.id);
  if (!handler) {
    const message = `no handler is registered for job type ${running.type}; registered types: ${deps.handlers.types().join(', ')}`;
    await finish(deps, running, failed(running, { reason: REASONS.noHandler, message }, deps.now()));
    return;
  }

  const attempt = new AbortController();
  const abort = () => attempt.abort(delivery.signal.reason);
  delivery.signal.addEventListener('abort', abort, { once: true });
  const timer = setTimeout(() => attempt.abort(new Error(`timed out after ${deps.execution.jobTimeoutMs} ms`)), deps.execution.jobTimeoutMs);
  let output: JsonValue;
  try {
    output = checkedOutput(
      await handler({
        jobId: running.jobId,
        type: running.type,
        payload: running.payload,
        provider: running.provider,
        parents: running.parentIds.map((id) => parentResult(parents.find((p) => p.jobId === id)!)),
        attempt: running.attempt,
        signal: attempt.signal,
      }),
    );
  } catch (error) {
    if (delivery.signal.aborted) return stopped(deps, running);
    const timedOut = attempt.signal.aborted;
    const message = timedOut ? String((attempt.signal.reason as Error).message) : error instanceof Error ? error.message : String(error);
    if (timedOut) deps.metrics.jobTimedOut(running.type);
    if (!delivery.finalAttempt) {
      deps.metrics.jobRetried(running.type, timedOut ? 'timeout' : 'handler_error');
      await deps.store.replaceJob(requeued(running, deps.now()), running.etag);
      throw new RetryableAttemptError(message);
    }
    await finish(deps, running, failed(running, { reason: timedOut ? REASONS.timeout : REASONS.handlerError, message }, deps.now()));
    return;
  } finally {
    clearTimeout(timer);
    delivery.signal.removeEventListener('abort', abort);
  }
  const done = succeeded(running, output, deps.execution.maxOutputBytes, deps.now());
  const previous = await deps.store.findReusableResult({
    tenant: done.tenant,
    definitionHash: done.definitionHash,
    inputHash: done.inputHash,
    cacheKeySalt: cacheKeySalt(done),
    excludeJobId: done.jobId,
  });
  // Differential invalidation: a rerun that produced a different output makes what was built on the previous output stale, within its submitter's authority.
  // The descendants are found before the result is written, which then carries the invalidation in its own transaction (not group committed: it is rare).
  if (previous && previous.result!.outputHash !== done.result!.outputHash) {
    const { within, outside } = await descendantsToInvalidate(deps, submitterOf(done), previous.jobId, done.jobId);
    let written: boolean;
    if (within.length > 0) {
      written = await recordResultInvalidating(deps, done, running.etag, previous.jobId, within);
      if (written) await settleChecked(deps, done);
    } else {
      written = await finish(deps, running, done);
    }
    // Those running when the walk looked may have finished since: after the run's own waiting jobs are on their way.
    if (written) {
      await invalidateFinishedSince(deps, submitterOf(done), previous.jobId, [...within, ...outside]).catch((error: unknown) => {
        deps.log.error({ err: error, jobId: previous.jobId, runJobId: done.jobId }, "could not walk again after a rerun's invalidation: jobs that finished during it stay FRESH");
      });
    }
    return;
  }
  await finish(deps, running, done);
}

/**
 * The delivery was aborted: by CancelJob, which has already written the
 * record, or by the worker stopping, in which case the job goes back to
 * QUEUED and the queue (or, failing that, the repair sweep) hands it out again.
 */
async function stopped(deps: ServiceDependencies, running: JobRecord): Promise<void> {
  const [now] = await deps.store.getJobs([running.jobId]);
  if (now?.status === 'CANCELLED') return;
  await deps.store.replaceJob(requeued(running, deps.now()), running.etag);
  throw new RetryableAttemptError('the worker stopped before the job finished');
}

/** Writes the terminal record if the job is still as this worker read it (claimed, or about to be), then settles what waits on it. */
async function finish(deps: ServiceDependencies, read: JobRecord, done: JobRecord): Promise<boolean> {
  if (!(await groupCommit(deps.store).replace(done, read.etag))) return false;
  await settleChecked(deps, done);
  return true;
}

/**
 * Settles what waits on a job just written, once a result built on a STALE
 * one (builtOnStale: on parents one of which is STALE now) is made STALE
 * too, with its cache.invalidated event, so that the jobs waiting on it
 * find it so. Read after the write, not before: an invalidation that marks
 * the parent after this read walks again after it (invalidateFinishedSince)
 * and finds the job SUCCEEDED; one that marked it before is seen here. A
 * check that fails is logged, and what waits is settled all the same: the
 * job is written, and the queue will not deliver it again.
 */
async function settleChecked(deps: ServiceDependencies, done: JobRecord): Promise<void> {
  if (done.status === 'SUCCEEDED' && done.parentIds.length > 0) {
    try {
      if (builtOnStale(done, await deps.store.getJobs(done.parentIds))) await invalidateBuiltOnStale(deps, done, true);
    } catch (error) {
      deps.log.error({ err: error, jobId: done.jobId }, 'could not check whether the result was built on a STALE one: it stays FRESH');
    }
  }
  await settle(deps, done);
}

function parentResult(parent: JobRecord): { jobId: string; outputHash: string; output?: JsonValue } {
  const { result } = parent;
  return result!.output === undefined ? { jobId: parent.jobId, outputHash: result!.outputHash } : { jobId: parent.jobId, outputHash: result!.outputHash, output: result!.output };
}

/** A handler must return JSON that every store keeps alike; anything else fails the attempt with a clear message. */
function checkedOutput(value: unknown): JsonValue {
  if (value === undefined) throw new Error('the handler returned nothing; it must return a JSON value');
  const v = new Violations();
  try {
    v.json('output', value as JsonValue, Number.MAX_SAFE_INTEGER);
  } catch (error) {
    throw new Error(`the handler returned a value that is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const [problem] = v.list;
  if (problem) throw new Error(`the handler returned an output whose ${problem.field} ${problem.description}`);
  return value as JsonValue;
}
