import { isOwner, permissionDenied, requireOwnerOrAdmin } from './access.js';
import { saltsOf } from './cache-salt.js';
import type { RecordJobCommand, SetReaderSubjectsCommand } from './commands.js';
import { ProvenanceError, failedPrecondition, jobName, jobResource, notFinished } from './errors.js';
import { withLifecycleEvents } from './job-events.js';
import { canonicalJson, canonicalObject, outputHash, sha256Hex } from './hashing.js';
import type { JsonValue } from './json.js';
import { newEtag } from './ids.js';
import type { JobRecord, JobResult, JobStatus } from './job.js';
import { cacheStateFor, isForwardTransition, isTerminal } from './job.js';
import type { Principal } from './principal.js';

/**
 * The pure rules of RecordJob: what a new record looks like, and what a
 * second request for an existing job id does to it.
 */

/**
 * Fingerprint of what a request asks for; the idempotency key and the etag
 * condition are not part of it. canonicalPayload: canonicalJson of the
 * payload, when the definition hash made it already. canonicalize writes
 * Dates through toJSON and leaves out undefined members, so the text is
 * that of the request's JSON, without a round trip through it.
 */
export function recordFingerprint(command: RecordJobCommand, canonicalPayload = canonicalJson(command.payload)): string {
  const members: Record<string, string | undefined> = { payload: canonicalPayload };
  // A walk of the keys rather than a rest pattern, which copies the command member by member first.
  for (const key of Object.keys(command) as Array<keyof RecordJobCommand>) {
    const value = command[key];
    if (!NOT_FINGERPRINTED.has(key) && value !== undefined) members[key] = canonicalJson(value as JsonValue);
  }
  return sha256Hex(canonicalObject(members));
}

/** The members the fingerprint leaves out: the idempotency key, the etag condition, and the payload, given as canonicalPayload. */
const NOT_FINGERPRINTED: ReadonlySet<keyof RecordJobCommand> = new Set(['requestId', 'etag', 'allowMissingParents', 'payload']);

export interface NewRecordContext {
  jobId: string;
  now: Date;
  principal: Principal;
  definitionHash: string;
  inputHash: string;
  fingerprint: string;
  payloadRedacted: boolean;
  /** The tenant's salt now (PROVENANCE_CACHE_SALTS); undefined: none. */
  tenantCacheSalt?: string;
}

export function newRecordedJob(command: RecordJobCommand, context: NewRecordContext): JobRecord {
  const status = command.status as JobStatus;
  const record: JobRecord = {
    jobId: context.jobId,
    type: command.type,
    payload: command.payload,
    definitionHash: context.definitionHash,
    inputHash: context.inputHash,
    provider: command.provider,
    parentIds: command.parentIds,
    status,
    cacheState: cacheStateFor(status),
    createdAt: context.now,
    updatedAt: context.now,
    attempt: command.attempt || defaultAttempt(status, command.startedAt),
    labels: command.labels,
    metadata: command.metadata,
    tenant: context.principal.tenant,
    owner: context.principal.subject,
    readers: command.readers,
    etag: newEtag(),
    origin: 'RECORDED',
    payloadRedacted: context.payloadRedacted,
    ...saltsOf(context.tenantCacheSalt, command.cacheSalt),
    requestHash: context.fingerprint,
  };
  if (command.requestId) record.requestId = command.requestId;
  return withLifecycleEvents(undefined, withOutcome(record, command), context.now);
}

export type RecordUpdate = { kind: 'unchanged' } | { kind: 'updated'; record: JobRecord };

/**
 * A request for a job id that exists, from a caller who may read it. Only
 * the job's owner or an admin of its tenant may touch the record
 * (PERMISSION_DENIED), only the owner may change its readers, and a
 * submitted job is the worker pool's (FAILED_PRECONDITION, NOT_RECORDABLE).
 * Then the same request again changes nothing; the same job (type, payload,
 * provider, parents) at a later lifecycle status moves the record forward;
 * anything else is ALREADY_EXISTS.
 */
export function updateRecordedJob(principal: Principal, existing: JobRecord, command: RecordJobCommand, now: Date): RecordUpdate {
  requireOwnerOrAdmin(principal, existing, `Recording job ${existing.jobId} again`);
  if (existing.origin === 'SUBMITTED') {
    const why = 'it was submitted: the worker pool records its outcome';
    throw failedPrecondition(`job ${existing.jobId} cannot be recorded: ${why}`, 'NOT_RECORDABLE', [
      { type: 'NOT_RECORDABLE', subject: jobName(existing.jobId), description: why },
    ]);
  }
  if (command.readers.length > 0 && !sameGrants(existing.readers, command.readers) && !isOwner(principal, existing)) {
    throw permissionDenied(`changing who may read job ${existing.jobId} is for its owner`);
  }
  if (command.etag !== undefined && command.etag !== existing.etag) throw etagMismatch(existing.jobId, command.etag);
  if (!sameJob(existing, command)) {
    throw jobExists(existing.jobId, 'with a different type, payload, provider, parents or cache salt');
  }
  const merged = withOutcome(
    {
      ...existing,
      status: command.status as JobStatus,
      labels: Object.keys(command.labels).length > 0 ? command.labels : existing.labels,
      metadata: Object.keys(command.metadata).length > 0 ? command.metadata : existing.metadata,
      readers: command.readers.length > 0 ? command.readers : existing.readers,
      attempt: command.attempt || existing.attempt || defaultAttempt(command.status as JobStatus, command.startedAt),
    },
    command,
  );
  if (sameState(existing, merged)) return { kind: 'unchanged' };
  if (!isForwardTransition(existing.status, merged.status)) {
    throw jobExists(existing.jobId, `in status ${existing.status}, which cannot move to ${merged.status} with different content`);
  }
  return {
    kind: 'updated',
    record: withLifecycleEvents(existing, { ...merged, cacheState: cacheStateFor(merged.status), updatedAt: now, etag: newEtag() }, now),
  };
}

/**
 * SetReaderSubjects: the job's grants become exactly those given (validated
 * without repeats). Only its owner shares a job (PERMISSION_DENIED, for an
 * admin too). A submitted job's record is the worker pool's until it has
 * finished (FAILED_PRECONDITION, NOT_FINISHED): its writes are conditional
 * on the etag they read, and a grant written in between would cost a run its
 * outcome. The same grants in another order change nothing, not even the
 * etag; a stored list with repeats (RecordJob keeps them) is written anew.
 */
export function withReaderSubjects(principal: Principal, existing: JobRecord, command: SetReaderSubjectsCommand, now: Date): RecordUpdate {
  if (!isOwner(principal, existing)) throw permissionDenied(`changing who may read job ${existing.jobId} is for its owner`);
  if (existing.origin === 'SUBMITTED' && !isTerminal(existing.status)) {
    throw notFinished(existing.jobId, `job ${existing.jobId} is ${existing.status}: who may read a submitted job can change once it has finished`);
  }
  if (command.etag !== undefined && command.etag !== existing.etag) throw etagMismatch(existing.jobId, command.etag);
  if (existing.readers.length === command.readers.length && sameGrants(existing.readers, command.readers)) return { kind: 'unchanged' };
  return { kind: 'updated', record: { ...existing, readers: command.readers, updatedAt: now, etag: newEtag() } };
}

/** A job that was started counts one attempt unless the client says how many. */
function defaultAttempt(status: JobStatus, startedAt: Date | undefined): number {
  return startedAt || status === 'RUNNING' || status === 'SUCCEEDED' || status === 'FAILED' ? 1 : 0;
}

function etagMismatch(jobId: string, etag: string): ProvenanceError {
  return new ProvenanceError('ABORTED', `job ${jobId} has changed: its etag is no longer ${etag}`, 'ETAG_MISMATCH', { resource: jobResource(jobId) });
}

function jobExists(jobId: string, why: string): ProvenanceError {
  return new ProvenanceError('ALREADY_EXISTS', `job ${jobId} already exists ${why}`, 'JOB_ALREADY_EXISTS', {
    resource: jobResource(jobId),
  });
}

/** Sets times, duration, result and error from the request, keeping what the request leaves out. */
function withOutcome(record: JobRecord, command: RecordJobCommand): JobRecord {
  const startedAt = command.startedAt ?? record.startedAt;
  const completedAt = command.completedAt ?? record.completedAt;
  const next: JobRecord = { ...record };
  delete next.startedAt;
  delete next.completedAt;
  delete next.durationMs;
  delete next.result;
  delete next.error;
  if (startedAt) next.startedAt = startedAt;
  if (completedAt) next.completedAt = completedAt;
  if (startedAt && completedAt) next.durationMs = completedAt.getTime() - startedAt.getTime();
  const result = resultOf(command);
  if (result) next.result = result;
  if (command.error) next.error = command.error;
  return next;
}

function resultOf(command: RecordJobCommand): JobResult | undefined {
  if (command.status !== 'SUCCEEDED') return undefined;
  const hash = command.outputHash ?? outputHash(command.output!);
  return command.output === undefined ? { outputHash: hash, cached: false } : { outputHash: hash, output: command.output, cached: false };
}

function sameJob(existing: JobRecord, command: RecordJobCommand): boolean {
  return (
    existing.type === command.type &&
    canonicalJson(existing.payload) === canonicalJson(command.payload) &&
    canonicalJson({ ...existing.provider }) === canonicalJson({ ...command.provider }) &&
    existing.parentIds.length === command.parentIds.length &&
    existing.parentIds.every((id, i) => id === command.parentIds[i]) &&
    (existing.cacheSalt ?? '') === (command.cacheSalt ?? '')
  );
}

function sameGrants(a: readonly string[], b: readonly string[]): boolean {
  const set = (grants: readonly string[]) => [...new Set(grants)].sort().join('\n');
  return set(a) === set(b);
}

function sameState(a: JobRecord, b: JobRecord): boolean {
  const state = (r: JobRecord) =>
    canonicalJson(
      JSON.parse(
        JSON.stringify({
          status: r.status,
          startedAt: r.startedAt,
          completedAt: r.completedAt,
          result: r.result,
          error: r.error,
          labels: r.labels,
          metadata: r.metadata,
          readers: r.readers,
          attempt: r.attempt,
        }),
      ),
    );
  return state(a) === state(b);
}
