import type { Lineage } from '../lineage.js';
import { renderDot } from './dot.js';
import { renderMermaid } from './mermaid.js';
import { renderProvJson } from './prov-json.js';
import type { RenderedGraph } from './rendered-graph.js';

export type { RenderedGraph } from './rendered-graph.js';

/** The document formats of ExportProvenanceGraph besides the native one (records and edges as messages). */
export type DocumentFormat = 'PROV_JSON' | 'DOT' | 'MERMAID';

const RENDERERS: Record<DocumentFormat, (lineage: Lineage) => RenderedGraph> = {
  PROV_JSON: renderProvJson,
  DOT: renderDot,
  MERMAID: renderMermaid,
};

/** Renders an exported lineage (whole records, restricted jobs as placeholders) in the root, then nodes, then edges order. */
export function renderGraph(format: DocumentFormat, lineage: Lineage): RenderedGraph {
  return RENDERERS[format](lineage);
}
