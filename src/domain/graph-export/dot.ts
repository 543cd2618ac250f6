import type { LineageInParts } from '../lineage.js';
import type { ExportedJob } from './exported-jobs.js';
import { eachEdgeInSteps, eachJobInSteps, TextPieces, type RenderSteps } from './in-steps.js';
import type { RenderedDocument } from './rendered-graph.js';

/** Graphviz DOT: one box per job labelled with its id, type and status; restricted jobs dashed; edges parent -> child; the root doubly outlined. In steps (in-steps.ts). */
export function* renderDot(lineage: LineageInParts, recordsInParts = false): RenderSteps<RenderedDocument> {
  const text = new TextPieces();
  const line = (content: string) => text.write(`${content}\n`);
  line('digraph provenance {');
  line('  node [shape=box, style=rounded];');
  // Each job's name as its node shows it, by export index, for the edges.
  const names: string[] = [];
  yield* eachJobInSteps(lineage, (job) => {
    const name = quoted(job.id);
    line(`  ${name} [${attributes(job, names.length === 0)}];`);
    names.push(name);
  }, recordsInParts);
  yield* eachEdgeInSteps(lineage, (parent, child) => line(`  ${names[parent]} -> ${names[child]};`));
  line('}');
  return { pieces: text.done(), contentType: 'text/vnd.graphviz' };
}

function attributes(job: ExportedJob, isRoot: boolean): string {
  const label = job.summary ? [job.id, job.summary.type, job.summary.status] : [job.id, 'restricted'];
  const list = [`label=${quoted(label.join('\n'))}`];
  if (!job.summary) list.push('style="rounded,dashed"');
  if (isRoot) list.push('peripheries=2');
  return list.join(', ');
}

/** A DOT double-quoted string; backslashes are doubled so that a label shows them instead of reading them as escapes. */
function quoted(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}
