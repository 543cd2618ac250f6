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

/** What the check asks of the service: its settings, and who asks. */
export interface ReproducibilityRules {
  volatileKeys: ReadonlySet<string>;
  /** Whether this service could run a job of that type and provider again. */
  hasHandler(type: string, providerId: string): boolean;
  /** The salt the tenant of a record has now (PROVENANCE_CACHE_SALTS); undefined: none. */
  tenantCacheSalt(tenant: string): string | undefined;
  /** Who asks: of an ancestor it may not read, it is told that it is there, under its placeholder, and nothing else. */
  viewer: Pick<JobViewer, 'mayRead' | 'placeholder'>;
}

/** Records by id, where the check looks a record's parents up: a parent not here has no record. */
export interface KnownRecords {
  get(jobId: string): JobRecord | undefined;
}

/**
 * The check of one job, a record at a time: the job's own, then its
 * ancestors' nearest first, each with the records its parents are looked up
 * in, so that a large ancestry is checked a part at a time without holding
 * every record (docs/decisions.md, "Records read as the answer is
 * written"). The report is the issues of each record in that order, then
 * the truncation's. A parent missing from several records is reported
 * once, at the first.
 */
export class ReproducibilityCheck {
  private readonly reportedMissing = new Set<string>();

  constructor(private readonly rules: ReproducibilityRules) {}

  /** The issue of an ancestry that exceeds the lineage limits. */
  truncation(jobId: string): ReproducibilityIssue {
    return {
      reason: 'ANCESTRY_TRUNCATED',
      jobId,
      message: 'the ancestry exceeds the lineage limits (PROVENANCE_MAX_LINEAGE_DEPTH / PROVENANCE_MAX_LINEAGE_NODES); ancestors beyond them were not checked',
    };
  }

  /** The issues of the job (isJob) or of one of its ancestors, in the report's order; known holds (at least) the record's parents that exist. */
  issuesOf(record: JobRecord, isJob: boolean, known: KnownRecords): ReproducibilityIssue[] {
    const { viewer } = this.rules;
    if (!viewer.mayRead(record)) {
      return [{ reason: 'INPUTS_INCOMPLETE', jobId: viewer.placeholder(record.jobId), message: 'an ancestor is restricted to the caller, so its inputs cannot be checked' }];
    }
    const issues: ReproducibilityIssue[] = [];
    const subject = isJob ? 'the job' : `ancestor ${record.jobId}`;
    if (!isJob && record.status !== 'SUCCEEDED') {
      issues.push({ reason: 'ANCESTOR_NOT_SUCCEEDED', jobId: record.jobId, message: `${subject} is ${record.status}, so its output is not known` });
    }
    if (record.cacheState === 'STALE') {
      issues.push({ reason: 'STALE_RESULT', jobId: record.jobId, message: `${subject} has a stale result: something upstream changed` });
    }
    const saltNow = this.rules.tenantCacheSalt(record.tenant) ?? '';
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
    const recomputedDefinition = definitionHash(record.type, record.payload, this.rules.volatileKeys);
    if (recomputedDefinition !== record.definitionHash) {
      issues.push({
        reason: 'DEFINITION_HASH_MISMATCH',
        jobId: record.jobId,
        message: `the stored definition hash of ${subject} is ${record.definitionHash}, but its type and payload hash to ${recomputedDefinition}`,
      });
    }
    for (const parentId of record.parentIds) {
      if (known.get(parentId) || this.reportedMissing.has(parentId)) continue;
      this.reportedMissing.add(parentId);
      issues.push({ reason: 'MISSING_ANCESTOR', jobId: parentId, message: `job ${parentId}, a parent of ${record.jobId}, has no record` });
    }
    if (!this.rules.hasHandler(record.type, record.provider.id)) {
      issues.push({ reason: 'NO_HANDLER', jobId: record.jobId, message: `no handler is registered for type ${record.type} (provider ${record.provider.id || 'any'}), so ${subject} cannot be run again here` });
    }
    const mismatch = inputHashMismatch(record, subject, known, viewer);
    if (mismatch) issues.push(mismatch);
    return issues;
  }
}

/**
 * The record's stored input hash against one recomputed from its parents'
 * current outputs. Not checked when a parent is restricted to the caller:
 * a hash recomputed from its output would tell that output (it can be
 * checked offline), and so would whether it matches; the restricted
 * ancestor has its own issue.
 */
function inputHashMismatch(record: JobRecord, subject: string, known: KnownRecords, viewer: ReproducibilityRules['viewer']): ReproducibilityIssue | undefined {
  const parents = record.parentIds.map((jobId) => ({ jobId, parent: known.get(jobId) }));
  if (parents.some(({ parent }) => parent && !viewer.mayRead(parent))) return undefined;
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
