import { definitionHash, inputHash } from './hashing.js';
import type { JobRecord } from './job.js';
import type { JobViewer } from './job-view.js';

export type ReproducibilityIssueReason =
  | 'MISSING_ANCESTOR'
  | 'ANCESTOR_NOT_SUCCEEDED'
  | 'STALE_RESULT'
  | 'INPUTS_INCOMPLETE'
  | 'DEFINITION_HASH_MISMATCH'
  | 'INPUT_HASH_MISMATCH'
  | 'NO_HANDLER'
  | 'ANCESTRY_TRUNCATED'
  | 'CACHE_SALT_MISMATCH';

export interface ReproducibilityIssue {
  reason: ReproducibilityIssueReason;
  jobId: string;
  message: string;
}

export interface ReproducibilityInput {
  job: JobRecord;
  /** The ancestors to check, nearest first. */
  ancestors: readonly JobRecord[];
  /** Every record found within one level beyond the checked ancestors, by id: a parent of a checked job that is not here has no record. */
  known: ReadonlyMap<string, JobRecord>;
  /** Whether ancestors exist that were not checked (lineage limits). */
  ancestryTruncated: boolean;
  volatileKeys: ReadonlySet<string>;
  /** Whether this service could run a job of that type and provider again. */
  hasHandler(type: string, providerId: string): boolean;
  /** The salt the tenant of a record has now (PROVENANCE_CACHE_SALTS); undefined: none. */
  tenantCacheSalt(tenant: string): string | undefined;
  /** Who asks: of an ancestor it may not read, it is told that it is there, under its placeholder, and nothing else. */
  viewer: Pick<JobViewer, 'mayRead' | 'placeholder'>;
}

/** Records checked between two pauses of checkReproducibilityInSteps: each is hashed twice, so a step takes a few milliseconds. */
export const REPRODUCIBILITY_STEP_SIZE = 250;

/** Every reason the job cannot be reproduced from what is recorded; empty when it can. */
export function checkReproducibility(input: ReproducibilityInput): ReproducibilityIssue[] {
  const steps = checkReproducibilityInSteps(input);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * checkReproducibility, pausing (yield) after every REPRODUCIBILITY_STEP_SIZE
 * records, so that the caller can let other work run between steps on a
 * large ancestry; it returns the issues.
 */
export function* checkReproducibilityInSteps(input: ReproducibilityInput): Generator<void, ReproducibilityIssue[]> {
  const issues: ReproducibilityIssue[] = [];
  const reportedMissing = new Set<string>();
  for (let index = 0; index <= input.ancestors.length; index++) {
    if (index > 0 && index % REPRODUCIBILITY_STEP_SIZE === 0) yield;
    const record = index === 0 ? input.job : input.ancestors[index - 1]!;
    if (!input.viewer.mayRead(record)) {
      issues.push({ reason: 'INPUTS_INCOMPLETE', jobId: input.viewer.placeholder(record.jobId), message: 'an ancestor is restricted to the caller, so its inputs cannot be checked' });
      continue;
    }
    const isJob = record === input.job;
    const subject = isJob ? 'the job' : `ancestor ${record.jobId}`;
    if (!isJob && record.status !== 'SUCCEEDED') {
      issues.push({ reason: 'ANCESTOR_NOT_SUCCEEDED', jobId: record.jobId, message: `${subject} is ${record.status}, so its output is not known` });
    }
    if (record.cacheState === 'STALE') {
      issues.push({ reason: 'STALE_RESULT', jobId: record.jobId, message: `${subject} has a stale result: something upstream changed` });
    }
    const saltNow = input.tenantCacheSalt(record.tenant) ?? '';
    if (record.status === 'SUCCEEDED' && (record.tenantCacheSalt ?? '') !== saltNow) {
      issues.push({
        reason: 'CACHE_SALT_MISMATCH',
        jobId: record.jobId,
        message: `${subject} succeeded under tenant cache salt "${record.tenantCacheSalt ?? ''}", but the tenant's salt is now "${saltNow}": its result is disowned, and the same job would run again`,
      });
    }
    if (record.payloadRedacted) {
      issues.push({ reason: 'INPUTS_INCOMPLETE', jobId: record.jobId, message: `the stored payload of ${subject} was redacted` });
    }
    const recomputedDefinition = definitionHash(record.type, record.payload, input.volatileKeys);
    if (recomputedDefinition !== record.definitionHash) {
      issues.push({
        reason: 'DEFINITION_HASH_MISMATCH',
        jobId: record.jobId,
        message: `the stored definition hash of ${subject} is ${record.definitionHash}, but its type and payload hash to ${recomputedDefinition}`,
      });
    }
    for (const parentId of record.parentIds) {
      if (input.known.has(parentId) || reportedMissing.has(parentId)) continue;
      reportedMissing.add(parentId);
      issues.push({ reason: 'MISSING_ANCESTOR', jobId: parentId, message: `job ${parentId}, a parent of ${record.jobId}, has no record` });
    }
    if (!input.hasHandler(record.type, record.provider.id)) {
      issues.push({ reason: 'NO_HANDLER', jobId: record.jobId, message: `no handler is registered for type ${record.type} (provider ${record.provider.id || 'any'}), so ${subject} cannot be run again here` });
    }
    const mismatch = inputHashMismatch(record, subject, input);
    if (mismatch) issues.push(mismatch);
  }
  if (input.ancestryTruncated) {
    issues.push({
      reason: 'ANCESTRY_TRUNCATED',
      jobId: input.job.jobId,
      message: 'the ancestry exceeds the lineage limits (PROVENANCE_MAX_LINEAGE_DEPTH / PROVENANCE_MAX_LINEAGE_NODES); ancestors beyond them were not checked',
    });
  }
  return issues;
}

/**
 * The record's stored input hash against one recomputed from its parents'
 * current outputs. Not checked when a parent is restricted to the caller:
 * a hash recomputed from its output would tell that output (it can be
 * checked offline), and so would whether it matches; the restricted
 * ancestor has its own issue.
 */
function inputHashMismatch(record: JobRecord, subject: string, input: ReproducibilityInput): ReproducibilityIssue | undefined {
  const parents = record.parentIds.map((jobId) => ({ jobId, parent: input.known.get(jobId) }));
  if (parents.some(({ parent }) => parent && !input.viewer.mayRead(parent))) return undefined;
  const recomputed = inputHash(
    record.definitionHash,
    parents.map(({ jobId, parent }) => ({ jobId, outputHash: parent?.result?.outputHash ?? null })),
  );
  if (recomputed === record.inputHash) return undefined;
  return {
    reason: 'INPUT_HASH_MISMATCH',
    jobId: record.jobId,
    message: `the stored input hash of ${subject} does not match its parents' current outputs (recomputed ${recomputed})`,
  };
}
