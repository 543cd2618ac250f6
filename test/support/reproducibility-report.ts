import type { ReproducibilityIssue } from '../../src/domain/reproducibility.js';
import type { ReproducibilityReport } from '../../src/service/lineage-queries.js';

/** Every issue of a report, its parts read in order. */
export async function reportIssues(report: ReproducibilityReport): Promise<ReproducibilityIssue[]> {
  const issues: ReproducibilityIssue[] = [];
  for await (const part of report.issueParts) issues.push(...part);
  return issues;
}
