import type { JobRecord, JobStatus } from '../job.js';
import type { LineageNode, LineageRow } from '../lineage.js';

/**
 * One job of an exported graph: a readable job with its type and status (and
 * its whole record when the lineage was read with records), or a restricted
 * one known by its opaque id only.
 */
export interface ExportedJob {
  id: string;
  /** Absent for a restricted job. */
  summary?: { type: string; status: JobStatus };
  /** Absent for a restricted job, and for every job of a lineage read without records (exportReadsRecords). */
  record?: JobRecord;
}

/**
 * Whether a format shows more of a job than its type and status: DOT and
 * Mermaid do not, so a lineage the store does not build is walked without
 * records (the BASIC view). Where the store builds it, every format reads
 * its records a part at a time as it is rendered, which at 1,000,000 jobs
 * held the calls beside it for less than the BASIC view's rows of a whole
 * ancestry did (docs/decisions.md, "Records read as the answer is written").
 */
export function exportReadsRecords(format: 'NATIVE' | 'PROV_JSON' | 'DOT' | 'MERMAID'): boolean {
  return format === 'NATIVE' || format === 'PROV_JSON';
}

/** A node of the lineage as a job of the export. */
export function exportedNode(node: LineageNode): ExportedJob {
  return node.restricted ? { id: node.row.jobId } : exportedRow(node.row);
}

/** The root (or a node's row) as a job of the export. */
export function exportedRow(row: LineageRow): ExportedJob {
  const { record } = row;
  const summary = summaryOf(record ?? row, row.jobId);
  return record ? { id: row.jobId, summary, record } : { id: row.jobId, summary };
}

/** A readable job's whole record, for the formats that show it: a lineage read without records would export readable jobs as if they were restricted. */
export function wholeRecord(job: ExportedJob): JobRecord | undefined {
  if (job.summary && !job.record) throw new Error(`graph export needs whole records; job ${job.id} has none`);
  return job.record;
}

function summaryOf(job: { type?: string; status?: JobStatus }, jobId: string): ExportedJob['summary'] {
  if (job.type === undefined || job.status === undefined) throw new Error(`graph export needs each job's type and status; job ${jobId} has none`);
  return { type: job.type, status: job.status };
}
