import type { JobRecord } from '../job.js';
import type { Lineage } from '../lineage.js';

/** One job of an exported graph: a readable job with its whole record, or a restricted one known by its opaque id only. */
export interface ExportedJob {
  id: string;
  record?: JobRecord;
}

/** The root, then the lineage's nodes in their order (nearest first). */
export function exportedJobs(lineage: Lineage): ExportedJob[] {
  const root: ExportedJob = { id: lineage.root.jobId, record: wholeRecord(lineage.root.record, lineage.root.jobId) };
  return [root, ...lineage.nodes.map((node): ExportedJob => ({ id: node.row.jobId, record: node.restricted ? undefined : wholeRecord(node.row.record, node.row.jobId) }))];
}

function wholeRecord(record: JobRecord | undefined, jobId: string): JobRecord {
  // A lineage read without whole records would export readable jobs as if they were restricted.
  if (!record) throw new Error(`graph export needs whole records; job ${jobId} has none`);
  return record;
}
