import type { JobRecord } from '../../src/domain/job.js';
import { ReproducibilityCheck, type ReproducibilityIssue, type ReproducibilityRules } from '../../src/domain/reproducibility.js';
import type { ReproducibilityReport } from '../../src/service/lineage-queries.js';

/** Every issue of a report, its parts read in order. */
export async function reportIssues(report: ReproducibilityReport): Promise<ReproducibilityIssue[]> {
  const issues: ReproducibilityIssue[] = [];
  for await (const part of report.issueParts) issues.push(...part);
  return issues;
}

export interface ReproducibilityInput extends ReproducibilityRules {
  job: JobRecord;
  /** The ancestors to check, nearest first. */
  ancestors: readonly JobRecord[];
  /** Every record found, by id: a parent that is not here has no record. */
  known: ReadonlyMap<string, JobRecord>;
  /** Whether ancestors exist that were not checked (lineage limits). */
  ancestryTruncated: boolean;
}

/** The report of a job whose ancestors are all at hand, as the service writes it part by part. */
export function checkReproducibility(input: ReproducibilityInput): ReproducibilityIssue[] {
  const check = new ReproducibilityCheck(input);
  const issues = check.issuesOf(input.job, true, input.known);
  for (const ancestor of input.ancestors) issues.push(...check.issuesOf(ancestor, false, input.known));
  if (input.ancestryTruncated) issues.push(check.truncation(input.job.jobId));
  return issues;
}
