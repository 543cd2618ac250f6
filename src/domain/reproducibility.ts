import { definitionHash, inputHash } from './hashing.js';
import type { JobRecord } from './job.js';

export type ReproducibilityIssueReason =
  | 'MISSING_ANCESTOR'
  | 'ANCESTOR_NOT_SUCCEEDED'
  | 'STALE_RESULT'
  | 'INPUTS_INCOMPLETE'
  | 'DEFINITION_HASH_MISMATCH'
  | 'INPUT_HASH_MISMATCH'
  | 'NO_HANDLER'
  | 'ANCESTRY_TRUNCATED';

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
  /** Whether the caller may read a record: of an ancestor it may not, nothing is told but that it is there. */
  canRead(record: JobRecord): boolean;
  /** The id a restricted ancestor is shown under. */
  opaqueId(jobId: string): string;
}

/** Every reason the job cannot be reproduced from what is recorded; empty when it can. */
export function checkReproducibility(input: ReproducibilityInput): ReproducibilityIssue[] {
  const issues: ReproducibilityIssue[] = [];
  const reportedMissing = new Set<string>();
  for (const record of [input.job, ...input.ancestors]) {
    if (!input.canRead(record)) {
      issues.push({ reason: 'INPUTS_INCOMPLETE', jobId: input.opaqueId(record.jobId), message: 'an ancestor is restricted to the caller, so its inputs cannot be checked' });
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
    const parents = record.parentIds.map((id) => ({ jobId: id, outputHash: input.known.get(id)?.result?.outputHash ?? null }));
    const recomputedInput = inputHash(record.definitionHash, parents);
    if (recomputedInput !== record.inputHash) {
      issues.push({
        reason: 'INPUT_HASH_MISMATCH',
        jobId: record.jobId,
        message: `the stored input hash of ${subject} does not match its parents' current outputs (recomputed ${recomputedInput})`,
      });
    }
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
