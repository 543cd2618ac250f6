import { JOB_STATUSES } from '../job.js';
import type { LineageInParts } from '../lineage.js';
import { eachEdgeInSteps, eachJobInSteps, TextPieces, type RenderSteps } from './in-steps.js';
import type { RenderedDocument } from './rendered-graph.js';

const STATUS_STYLES: Record<(typeof JOB_STATUSES)[number] | 'RESTRICTED', string> = {
  QUEUED: 'fill:#e9ecef,stroke:#6c757d',
  WAITING: 'fill:#fff3cd,stroke:#b58900',
  RUNNING: 'fill:#cfe2ff,stroke:#0d6efd',
  SUCCEEDED: 'fill:#d1e7dd,stroke:#198754',
  FAILED: 'fill:#f8d7da,stroke:#dc3545',
  CANCELLED: 'fill:#e2e3e5,stroke:#41464b',
  RESTRICTED: 'fill:#ffffff,stroke:#6c757d,stroke-dasharray:4 3',
};

/**
 * Mermaid flowchart, top down. Mermaid ids cannot hold every character a job
 * id may, so jobs are n0, n1, ... in the export's order (eachEdgeInSteps's
 * indexes), with the job id in the label; the class of each node is its
 * status (or restricted). In steps (in-steps.ts).
 */
export function* renderMermaid(lineage: LineageInParts, recordsInParts = false): RenderSteps<RenderedDocument> {
  const text = new TextPieces();
  const line = (content: string) => text.write(`${content}\n`);
  line('flowchart TD');
  let nodeCount = 0;
  yield* eachJobInSteps(lineage, (job) => {
    const nodeId = `n${nodeCount++}`;
    const label = job.summary ? [job.id, job.summary.type, job.summary.status] : [job.id, 'restricted'];
    const statusClass = (job.summary?.status ?? 'RESTRICTED').toLowerCase();
    line(`  ${nodeId}["${label.map(escaped).join('<br/>')}"]:::${statusClass}`);
  }, recordsInParts);
  yield* eachEdgeInSteps(lineage, (parent, child) => line(`  n${parent} --> n${child}`));
  for (const [status, style] of Object.entries(STATUS_STYLES)) line(`  classDef ${status.toLowerCase()} ${style}`);
  return { pieces: text.done(), contentType: 'text/vnd.mermaid' };
}

/** Label text as Mermaid entity codes where a character would end the label or be read as markup. */
function escaped(text: string): string {
  return text.replace(/[#"<>`\r\n]/g, (character) => `#${character.charCodeAt(0)};`);
}
