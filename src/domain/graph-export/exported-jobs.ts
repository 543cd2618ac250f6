import type { JobRecord } from '../job.js';
import type { Lineage } from '../lineage.js';

/** One job of an exported graph: a readable job with its whole record, or a restricted one known by its opaque id only. */
export interface ExportedJob {
  id: string;
  record?: JobRecord;
}

/** How many jobs the export holds: the root and the lineage's nodes. */
export function exportedJobCount(lineage: Lineage): number {
  return lineage.nodes.length + 1;
}

/** Job index of the export: the root at 0, then the lineage's nodes in their order (nearest first). */
export function exportedJob(lineage: Lineage, index: number): ExportedJob {
  if (index === 0) return { id: lineage.root.jobId, record: wholeRecord(lineage.root.record, lineage.root.jobId) };
  const node = lineage.nodes[index - 1]!;
  return { id: node.row.jobId, record: node.restricted ? undefined : wholeRecord(node.row.record, node.row.jobId) };
}

function wholeRecord(record: JobRecord | undefined, jobId: string): JobRecord {
  // A lineage read without whole records would export readable jobs as if they were restricted.
  if (!record) throw new Error(`graph export needs whole records; job ${jobId} has none`);
  return record;
}
