import { canRead, isOwner, isReaderGrant, requireRole } from '../../domain/access.js';
import type { RerunJobCommand, SubmitJobCommand } from '../../domain/commands.js';
import { ProvenanceError, failedPrecondition, invalidArgument, jobName, jobResource, lineageCycle, parentsNotFound } from '../../domain/errors.js';
import { enqueueFailed, enqueueRecovered, hasFailedEnqueue, newSubmittedJob, startingStatus, submissionFingerprint } from '../../domain/execution.js';
import { definitionHash } from '../../domain/hashing.js';
import { newJobId } from '../../domain/ids.js';
import type { CachePolicy, JobRecord } from '../../domain/job.js';
import type { JobView } from '../../domain/job-view.js';
import { mergePatch } from '../../domain/json-merge-patch.js';
import type { JsonObject } from '../../domain/json.js';
import type { Principal } from '../../domain/principal.js';
import { redactRequest } from '../../domain/redaction.js';
import { Violations, validateSubmitJob } from '../../domain/validation.js';
import { readableJob } from '../job-queries.js';
import type { ServiceDependencies } from '../provenance-service.js';
import { failWaitingDescendants, releaseIfReady } from './settlement.js';
import { groupCommit } from '../group-commit.js';
import { enqueueBatched } from './batched-enqueue.js';
import { knownJobs, viewerOf, viewJob } from '../views.js';

interface Submission {
  command: SubmitJobCommand;
  cachePolicy: CachePolicy;
  rerunOfJobId?: string;
  /** The parents are the rerun original's, not named by the caller: a refusal names those it may not read by their placeholders. */
  parentsOfOriginal?: boolean;
}

/**
 * SubmitJob: the record is written first (QUEUED, or WAITING while a parent
 * is live), then the job is enqueued. If the enqueue fails, the job stays
 * QUEUED, marked ENQUEUE_FAILED with an event of its own (it has not ended:
 * the repair sweep enqueues it once the queue is back), and the caller gets
 * UNAVAILABLE; a retry with the same request_id enqueues that same job.
 */
export async function submitJob(deps: ServiceDependencies, principal: Principal, command: SubmitJobCommand): Promise<JobView> {
  requireRole(principal, 'submitter', 'SubmitJob');
  const violations = validateSubmitJob(command, deps.limits);
  if (violations.length > 0) throw invalidArgument(violations);
  return viewJob(deps, principal, await submit(deps, principal, { command, cachePolicy: (command.cachePolicy as CachePolicy | undefined) ?? 'USE' }));
}

/**
 * RerunJob: a new submitted job from an existing one, with its payload
 * merged with overrides (RFC 7386) or replaced, and its parents kept or
 * replaced. A rerun that changes nothing must hash to the original's
 * definition hash; if it does not (the volatile keys changed since), that is
 * an error rather than a silently different job.
 */
export async function rerunJob(deps: ServiceDependencies, principal: Principal, command: RerunJobCommand): Promise<JobView> {
  requireRole(principal, 'submitter', 'RerunJob');
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  if (command.replaceParents) v.parents('parent_job_ids', command.parentIds, deps.limits.maxParents);
  else if (command.parentIds.length > 0) v.add('parent_job_ids', 'given without replace_parents');
  if (command.cachePolicy === 'INVALID') v.add('cache_policy', 'unknown cache policy');
  v.cacheSalt('cache_salt', command.cacheSalt);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const original = await readableJob(deps, principal, command.jobId);
  // The tenant's salt is always today's; the request's is the original's unless the rerun names one.
  const cacheSalt = command.cacheSalt ?? original.cacheSalt;
  const payload: JsonObject = command.payloadReplacement ?? (command.payloadOverrides ? (mergePatch(original.payload, command.payloadOverrides) as JsonObject) : original.payload);
  const submitCommand: SubmitJobCommand = {
    type: original.type,
    payload,
    provider: original.provider,
    parentIds: command.replaceParents ? command.parentIds : original.parentIds,
    labels: original.labels,
    metadata: original.metadata,
    // Grants are the owner's to give: another caller's rerun (a job of its own) starts with none.
    // Entries stored before grants named a tenant grant nothing, and are not carried over.
    readers: isOwner(principal, original) ? original.readers.filter(isReaderGrant) : [],
    ...(command.requestId ? { requestId: command.requestId } : {}),
    ...(cacheSalt ? { cacheSalt } : {}),
  };
  const violations = validateSubmitJob(submitCommand, deps.limits);
  if (violations.length > 0) throw invalidArgument(violations);
  const unchanged = !command.payloadReplacement && !command.payloadOverrides;
  if (unchanged && definitionHash(original.type, payload, deps.limits.volatileKeys) !== original.definitionHash) {
    throw failedPrecondition(
      `rerunning job ${original.jobId} unchanged gives a different definition hash than it has: the hashing configuration (PROVENANCE_VOLATILE_KEYS) changed since it was recorded`,
      'DEFINITION_HASH_MISMATCH',
      [{ type: 'DEFINITION_HASH_MISMATCH', subject: jobName(original.jobId), description: 'recomputed definition hash differs from the stored one' }],
    );
  }
  const cachePolicy = (command.cachePolicy as CachePolicy | undefined) ?? 'BYPASS';
  const rerun = await submit(deps, principal, { command: submitCommand, cachePolicy, rerunOfJobId: original.jobId, parentsOfOriginal: !command.replaceParents });
  return viewJob(deps, principal, rerun, [original]);
}

async function submit(deps: ServiceDependencies, principal: Principal, asked: Submission): Promise<JobRecord> {
  // What is stored, hashed and published is the request with its secrets redacted.
  const { request: command, redacted } = redactRequest(asked.command, deps.limits.isSecretKey);
  const submission = { ...asked, command };
  if (!deps.handlers.find(command.type, command.provider.id)) throw noHandler(command.type, deps.handlers.types());
  const fingerprint = submissionFingerprint(submission);
  const earlier = await earlierSubmission(deps, principal, command);
  if (earlier) return replayed(deps, earlier, fingerprint);

  // A parent the caller may not read is refused like one that does not exist.
  const stored = command.parentIds.length === 0 ? [] : await deps.store.getJobs(command.parentIds);
  const parents = stored.filter((parent) => canRead(principal, parent));
  const found = new Set(parents.map((p) => p.jobId));
  const missing = command.parentIds.filter((id) => !found.has(id));
  if (missing.length > 0) throw parentsNotFound(asked.parentsOfOriginal ? shownParents(deps, principal, missing, stored) : missing);
  const start = startingStatus(parents);
  if ('failedParents' in start) throw parentsFailed(start.failedParents);

  const job = newSubmittedJob(command, {
    jobId: command.jobId ?? newJobId(deps.now()),
    now: deps.now(),
    principal,
    definitionHash: definitionHash(command.type, command.payload, deps.limits.volatileKeys),
    status: start.status,
    cachePolicy: submission.cachePolicy,
    fingerprint,
    payloadRedacted: redacted,
    tenantCacheSalt: deps.execution.tenantCacheSalts.get(principal.tenant),
    ...(submission.rerunOfJobId ? { rerunOfJobId: submission.rerunOfJobId } : {}),
  });
  const outcome = await groupCommit(deps.store).insert(job, command.jobId === undefined);
  // A client-chosen id that a recorded job already names (allow_missing_parents) can close a cycle through these parents.
  if (!outcome.inserted && outcome.conflict === 'LINEAGE_CYCLE') {
    // The path may run through jobs of others: they are named as the caller may see them.
    const known = await knownJobs(deps, outcome.cycle, [job, ...stored]);
    throw lineageCycle(job.jobId, viewerOf(deps, principal).shownIds(outcome.cycle, known));
  }
  if (!outcome.inserted) {
    // Lost a race for the job id or request_id: answer as the winner would.
    return replayed(deps, (await earlierSubmission(deps, principal, command))!, fingerprint);
  }
  if (job.status === 'QUEUED') return enqueue(deps, job);
  return settleIfParentsFinished(deps, job);
}

interface EarlierSubmission {
  job: JobRecord;
  /** What the new request shares with the one that made the job. */
  sharing: 'request_id' | 'job_id';
}

/** The job an earlier request made with the same request_id, or with the same client-chosen job id. */
async function earlierSubmission(deps: ServiceDependencies, principal: Principal, command: SubmitJobCommand): Promise<EarlierSubmission | undefined> {
  const [byRequest] = command.requestId ? await deps.store.findByRequestIds(principal.tenant, [command.requestId]) : [];
  if (byRequest) return { job: byRequest, sharing: 'request_id' };
  const [byId] = command.jobId ? await deps.store.getJobs([command.jobId]) : [];
  // Job ids are global: another tenant's job under this id is a clash, told as nothing more.
  if (byId && byId.tenant !== principal.tenant) {
    throw new ProvenanceError('ALREADY_EXISTS', `job id ${byId.jobId} is taken; choose another`, 'JOB_ALREADY_EXISTS');
  }
  return byId && { job: byId, sharing: 'job_id' };
}

/** The same request again: the job it made, enqueued now if the queue had refused it. */
async function replayed(deps: ServiceDependencies, { job, sharing }: EarlierSubmission, fingerprint: string): Promise<JobRecord> {
  if (job.requestHash !== fingerprint) {
    const reason = sharing === 'request_id' ? 'REQUEST_ID_REUSED' : 'JOB_ALREADY_EXISTS';
    throw new ProvenanceError('ALREADY_EXISTS', `the ${sharing} was already used for a different request (job ${job.jobId})`, reason, {
      resource: jobResource(job.jobId),
    });
  }
  return hasFailedEnqueue(job) ? enqueue(deps, job) : job;
}

/** Enqueues a QUEUED job; a refusal marks it (once) and answers UNAVAILABLE, and a later success removes the mark. */
async function enqueue(deps: ServiceDependencies, job: JobRecord): Promise<JobRecord> {
  try {
    await enqueueBatched(deps.queue, job.jobId);
  } catch (error) {
    const message = error instanceof ProvenanceError ? error.message : 'the job queue refused the job';
    // A retry refused again leaves the mark as it is: one event per outage of this job, not one per attempt.
    if (!hasFailedEnqueue(job)) await deps.store.replaceJob(enqueueFailed(job, message, deps.now()), job.etag);
    throw new ProvenanceError(
      'UNAVAILABLE',
      `the job queue is unavailable; job ${job.jobId} is recorded and stays QUEUED until the queue takes it (by itself once the queue is back): retry with the same request_id to see it enqueued`,
      'QUEUE_UNAVAILABLE',
      { retryDelayMs: 1000, resource: jobResource(job.jobId) },
    );
  }
  return clearFailedEnqueue(deps, job);
}

/** The job after the queue took it: without its ENQUEUE_FAILED mark, unless a worker or a cancellation moved it first. */
export async function clearFailedEnqueue(deps: ServiceDependencies, job: JobRecord): Promise<JobRecord> {
  if (!hasFailedEnqueue(job)) return job;
  const recovered = enqueueRecovered(job, deps.now());
  return (await deps.store.replaceJob(recovered, job.etag)) ? recovered : (await deps.store.getJobs([job.jobId]))[0]!;
}

/**
 * A parent may have finished between reading it and writing this WAITING
 * job, in which case its completion did not see this job: look again now
 * that the job is stored, so that one of the two always releases it.
 */
async function settleIfParentsFinished(deps: ServiceDependencies, job: JobRecord): Promise<JobRecord> {
  const parents = await deps.store.getJobs(job.parentIds);
  const start = startingStatus(parents);
  if ('failedParents' in start) await failWaitingDescendants(deps, start.failedParents[0]!);
  else if (start.status === 'QUEUED') await releaseIfReady(deps, [job]);
  else return job;
  return (await deps.store.getJobs([job.jobId]))[0]!;
}

/** Parents the caller did not name itself, as it is shown them in the original's record. */
function shownParents(deps: ServiceDependencies, principal: Principal, parentIds: readonly string[], stored: readonly JobRecord[]): string[] {
  const byId = new Map(stored.map((job) => [job.jobId, job]));
  return viewerOf(deps, principal).shownIds(parentIds, new Map(parentIds.map((id) => [id, byId.get(id)])));
}

function noHandler(type: string, registered: readonly string[]): ProvenanceError {
  return failedPrecondition(`no handler is registered for job type ${type}; registered types: ${registered.join(', ')}`, 'NO_HANDLER', [
    { type: 'NO_HANDLER', subject: `types/${type}`, description: `registered types: ${registered.join(', ')}` },
  ]);
}

function parentsFailed(parents: readonly JobRecord[]): ProvenanceError {
  return failedPrecondition(
    `parent jobs did not succeed: ${parents.map((p) => `${p.jobId} (${p.status})`).join(', ')}`,
    'PARENT_FAILED',
    parents.map((p) => ({ type: 'PARENT_FAILED', subject: jobName(p.jobId), description: `parent job ${p.jobId} is ${p.status}` })),
  );
}
