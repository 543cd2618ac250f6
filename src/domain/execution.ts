import { canRead, submitterOf } from './access.js';
import { saltsOf } from './cache-salt.js';
import type { SubmitJobCommand } from './commands.js';
import { withEvents, withLifecycleEvents } from './job-events.js';
import { canonicalJson, hashedOutput, inputHash, sha256Hex } from './hashing.js';
import { newEtag } from './ids.js';
import type { CachePolicy, JobError, JobRecord, JobStatus } from './job.js';
import type { JsonValue } from './json.js';
import type { LineageRow } from './lineage.js';
import type { Principal } from './principal.js';

/**
 * The lifecycle of submitted jobs as pure functions: each transition takes a
 * record and returns the next one (with a fresh etag), so that the service
 * can write it with a compare-and-set on the old etag.
 */

export const REASONS = {
  dependencyFailed: 'DEPENDENCY_FAILED',
  enqueueFailed: 'ENQUEUE_FAILED',
  handlerError: 'HANDLER_ERROR',
  noHandler: 'NO_HANDLER',
  timeout: 'TIMEOUT',
  cancelled: 'CANCELLED',
  parentNotReadable: 'PARENT_NOT_READABLE',
} as const;

/** How a job starts: QUEUED when every parent has succeeded, WAITING while one is live; a failed parent means it cannot run. */
export function startingStatus(parents: readonly JobRecord[]): { status: 'QUEUED' | 'WAITING' } | { failedParents: JobRecord[] } {
  const failedParents = parents.filter((p) => p.status === 'FAILED' || p.status === 'CANCELLED');
  if (failedParents.length > 0) return { failedParents };
  return { status: parents.every((p) => p.status === 'SUCCEEDED') ? 'QUEUED' : 'WAITING' };
}

/** Fingerprint of what a submission asks for; the idempotency key is not part of it. */
export function submissionFingerprint(submission: { command: SubmitJobCommand; cachePolicy: CachePolicy; rerunOfJobId?: string }): string {
  const { requestId: _requestId, cachePolicy: _policy, ...content } = submission.command;
  const asked = { submit: content, cachePolicy: submission.cachePolicy, rerunOf: submission.rerunOfJobId ?? null };
  // Canonicalization leaves out undefined members as JSON.stringify does, so the command is hashed as it is, not copied through JSON first.
  return sha256Hex(canonicalJson(asked as unknown as JsonValue));
}

export interface NewSubmissionContext {
  jobId: string;
  now: Date;
  principal: Principal;
  definitionHash: string;
  status: 'QUEUED' | 'WAITING';
  cachePolicy: CachePolicy;
  fingerprint: string;
  payloadRedacted: boolean;
  rerunOfJobId?: string;
  /** The tenant's salt now (PROVENANCE_CACHE_SALTS); undefined: none. */
  tenantCacheSalt?: string;
}

export function newSubmittedJob(command: SubmitJobCommand, context: NewSubmissionContext): JobRecord {
  const record: JobRecord = {
    jobId: context.jobId,
    type: command.type,
    payload: command.payload,
    definitionHash: context.definitionHash,
    // Known once the parents' outputs are: set when the job is claimed.
    inputHash: '',
    provider: command.provider,
    parentIds: command.parentIds,
    status: context.status,
    cacheState: 'NONE',
    createdAt: context.now,
    updatedAt: context.now,
    attempt: 0,
    labels: command.labels,
    metadata: command.metadata,
    tenant: context.principal.tenant,
    owner: context.principal.subject,
    readers: command.readers,
    etag: newEtag(),
    origin: 'SUBMITTED',
    payloadRedacted: context.payloadRedacted,
    cachePolicy: context.cachePolicy,
    ...saltsOf(context.tenantCacheSalt, command.cacheSalt),
    requestHash: context.fingerprint,
  };
  if (command.requestId) record.requestId = command.requestId;
  if (context.rerunOfJobId) record.rerunOfJobId = context.rerunOfJobId;
  return withLifecycleEvents(undefined, record, context.now);
}

/** The job after a change: a fresh etag, and the events the change means in its outbox. */
function next(job: JobRecord, now: Date, changes: Partial<JobRecord>): JobRecord {
  const record: JobRecord = { ...job, updatedAt: now, etag: newEtag() };
  const fields = record as unknown as Record<string, unknown>;
  // A delete costs V8 more than the rest of the transition, so only members the record has are deleted.
  for (const [key, value] of Object.entries(changes)) {
    if (value !== undefined) fields[key] = value;
    else if (key in fields) delete fields[key];
  }
  return withLifecycleEvents(job, record, now);
}

/** WAITING → QUEUED, once every parent has succeeded. */
export function queued(job: JobRecord, now: Date): JobRecord {
  return next(job, now, { status: 'QUEUED', error: undefined, completedAt: undefined });
}

/**
 * A QUEUED job the queue refused (Redis down): it stays QUEUED, since it has
 * not ended and will be enqueued again, marked with why in its error, and
 * says so once with an event of its own, never with a completion.
 */
export function enqueueFailed(job: JobRecord, message: string, now: Date): JobRecord {
  return withEvents(next(job, now, { error: { reason: REASONS.enqueueFailed, message } }), ['compute.job.enqueue_failed'], now);
}

/** Whether a QUEUED job carries the mark of a refused enqueue (enqueueFailed). */
export function hasFailedEnqueue(job: JobRecord): boolean {
  return job.status === 'QUEUED' && job.error?.reason === REASONS.enqueueFailed;
}

/** A job marked by enqueueFailed that the queue has taken since: the mark goes. */
export function enqueueRecovered(job: JobRecord, now: Date): JobRecord {
  return next(job, now, { error: undefined });
}

/**
 * Why a claimed job may not run: a parent its submitter may no longer read
 * (its owner took the grant back since the job was submitted), whose output
 * the run would hand to the submitter's job. Named by its place, since the
 * error is shown to every reader of the job; undefined when every parent is
 * readable.
 */
export function unreadableParent(job: JobRecord, parents: readonly JobRecord[]): JobError | undefined {
  const submitter = submitterOf(job);
  const byId = new Map(parents.map((p) => [p.jobId, p]));
  const index = job.parentIds.findIndex((id) => {
    const parent = byId.get(id);
    return parent !== undefined && !canRead(submitter, parent);
  });
  if (index < 0) return undefined;
  return {
    reason: REASONS.parentNotReadable,
    message: `parent_job_ids[${index}] may no longer be read by this job's submitter, so the job was not run on its output`,
    dependencyJobId: job.parentIds[index]!,
  };
}

/** A worker takes the job: one more attempt, with the input hash of its parents' current outputs. */
export function claimed(job: JobRecord, parents: readonly JobRecord[], now: Date): JobRecord {
  const byId = new Map(parents.map((p) => [p.jobId, p]));
  const parentOutputs = job.parentIds.map((id) => ({ jobId: id, outputHash: byId.get(id)?.result?.outputHash ?? null }));
  return next(job, now, {
    status: 'RUNNING',
    attempt: job.attempt + 1,
    startedAt: now,
    inputHash: inputHash(job.definitionHash, parentOutputs),
    completedAt: undefined,
    durationMs: undefined,
    result: undefined,
    error: undefined,
  });
}

/** A RUNNING job whose attempt failed with retries left goes back to the queue, keeping its attempt count. */
export function requeued(job: JobRecord, now: Date): JobRecord {
  return next(job, now, { status: 'QUEUED' });
}

export function succeeded(job: JobRecord, output: JsonValue, maxOutputBytes: number, now: Date): JobRecord {
  const { outputHash, canonicalBytes } = hashedOutput(output);
  return finished(job, 'SUCCEEDED', now, {
    result: canonicalBytes <= maxOutputBytes ? { outputHash, output, cached: false } : { outputHash, cached: false },
    cacheState: 'FRESH',
  });
}

/** Completed from an earlier job's result without running the handler. */
export function servedFromCache(job: JobRecord, source: JobRecord, now: Date): JobRecord {
  const result = { ...source.result!, cached: true, cachedFromJobId: source.jobId };
  return finished(job, 'SUCCEEDED', now, { result, cacheState: 'FRESH' });
}

export function failed(job: JobRecord, error: JobError, now: Date): JobRecord {
  return finished(job, 'FAILED', now, { error, cacheState: 'NONE' });
}

export function cancelled(job: JobRecord, message: string, now: Date): JobRecord {
  return finished(job, 'CANCELLED', now, { error: { reason: REASONS.cancelled, message }, cacheState: 'NONE' });
}

function finished(job: JobRecord, status: JobStatus, now: Date, changes: Partial<JobRecord>): JobRecord {
  const startedAt = job.startedAt;
  return next(job, now, {
    status,
    completedAt: now,
    durationMs: startedAt && job.status === 'RUNNING' ? now.getTime() - startedAt.getTime() : undefined,
    ...changes,
  });
}

/**
 * Whether a job's result was built on a STALE result (docs/decisions.md,
 * "Results built on stale ones"): it SUCCEEDED, FRESH, and one of its
 * parents of the same tenant and owner is STALE. Only those: whoever made
 * the parent STALE (its owner, or an admin of its tenant) may make such a
 * job STALE too, as InvalidateCache would have had it finished first; a
 * job of another owner is left as InvalidateCache leaves it for an owner.
 */
export function builtOnStale(job: JobRecord, parents: ReadonlyArray<JobRecord | undefined>): boolean {
  if (job.status !== 'SUCCEEDED' || job.cacheState !== 'FRESH') return false;
  return parents.some((parent) => parent?.cacheState === 'STALE' && parent.tenant === job.tenant && parent.owner === job.owner);
}

/**
 * The record of a job whose cached results are invalidated: STALE itself when
 * it is one of the jobs (and has a result), with the cache.invalidated event
 * naming every job made STALE in its outbox.
 */
export function invalidated(job: JobRecord, invalidatedJobIds: readonly string[], now: Date): JobRecord {
  const staleItself = invalidatedJobIds.includes(job.jobId) && job.status === 'SUCCEEDED';
  const record: JobRecord = { ...job, ...(staleItself ? { cacheState: 'STALE' as const } : {}), updatedAt: now, etag: newEtag() };
  return withEvents(record, ['cache.invalidated'], now, { invalidatedJobIds: [...invalidatedJobIds], affectedCount: invalidatedJobIds.length });
}

/**
 * The WAITING jobs a failed or cancelled job takes down with it: its WAITING
 * children, their WAITING children, and so on, each with the job whose
 * failure started it. A WAITING job reached only through jobs that are not
 * WAITING (they ran, or were recorded) keeps waiting on its other parents.
 */
export function waitingDescendantsToFail(failedJobId: string, descendants: readonly LineageRow[]): string[] {
  const children = new Map<string, LineageRow[]>();
  for (const row of descendants) {
    for (const parent of row.parentIds) {
      const siblings = children.get(parent);
      if (siblings) siblings.push(row);
      else children.set(parent, [row]);
    }
  }
  const doomed: string[] = [];
  const seen = new Set([failedJobId]);
  let frontier = [failedJobId];
  while (frontier.length > 0) {
    const following: string[] = [];
    for (const id of frontier) {
      for (const child of children.get(id) ?? []) {
        if (seen.has(child.jobId) || child.status !== 'WAITING') continue;
        seen.add(child.jobId);
        doomed.push(child.jobId);
        following.push(child.jobId);
      }
    }
    frontier = following;
  }
  return doomed;
}

export function dependencyFailure(cause: JobRecord): JobError {
  return {
    reason: REASONS.dependencyFailed,
    message: dependencyFailureMessage(cause.jobId, cause.status === 'CANCELLED' ? 'was cancelled' : 'failed'),
    dependencyJobId: cause.jobId,
  };
}

/** DEPENDENCY_FAILED's message; "did not succeed" where the caller may not know how the dependency ended (job-view.ts). */
export function dependencyFailureMessage(dependencyJobId: string, outcome: 'failed' | 'was cancelled' | 'did not succeed'): string {
  return `job ${dependencyJobId}, which this job depends on, ${outcome}`;
}
