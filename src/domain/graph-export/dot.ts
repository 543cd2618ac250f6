import type { Lineage } from '../lineage.js';
import type { ExportedJob } from './exported-jobs.js';
import { eachEdgeInSteps, eachJobInSteps } from './in-steps.js';
import type { RenderedGraph } from './rendered-graph.js';

/** Graphviz DOT: one box per job labelled with its id, type and status; restricted jobs dashed; edges parent -> child; the root doubly outlined. In steps (in-steps.ts). */
export function* renderDot(lineage: Lineage): Generator<void, RenderedGraph> {
  const lines = ['digraph provenance {', '  node [shape=box, style=rounded];'];
  yield* eachJobInSteps(lineage, (job) => lines.push(`  ${quoted(job.id)} [${attributes(job, job.id === lineage.root.jobId)}];`));
  yield* eachEdgeInSteps(lineage, (edge) => lines.push(`  ${quoted(edge.parentJobId)} -> ${quoted(edge.childJobId)};`));
  lines.push('}', '');
  yield;
  return { content: lines.join('\n'), contentType: 'text/vnd.graphviz' };
}

function attributes(job: ExportedJob, isRoot: boolean): string {
  const label = job.record ? [job.id, job.record.type, job.record.status] : [job.id, 'restricted'];
  const list = [`label=${quoted(label.join('\n'))}`];
  if (!job.record) list.push('style="rounded,dashed"');
  if (isRoot) list.push('peripheries=2');
  return list.join(', ');
}

/** A DOT double-quoted string; backslashes are doubled so that a label shows them instead of reading them as escapes. */
function quoted(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}
