import type { LineageInParts } from '../lineage.js';
import { renderDot } from './dot.js';
import { allSteps, type RenderSteps } from './in-steps.js';
import { renderMermaid } from './mermaid.js';
import { renderProvJson } from './prov-json.js';
import type { RenderedDocument, RenderedGraph } from './rendered-graph.js';

export type { RenderedDocument, RenderedGraph } from './rendered-graph.js';
export type { RenderPause, RenderSteps } from './in-steps.js';
export { exportReadsRecords } from './exported-jobs.js';

/** The document formats of ExportProvenanceGraph besides the native one (records and edges as messages). */
export type DocumentFormat = 'PROV_JSON' | 'DOT' | 'MERMAID';

const RENDERERS: Record<DocumentFormat, (lineage: LineageInParts, recordsInParts: boolean) => RenderSteps<RenderedDocument>> = {
  PROV_JSON: renderProvJson,
  DOT: renderDot,
  MERMAID: renderMermaid,
};

/** Renders an exported lineage (whole records, restricted jobs as placeholders) in the root, then nodes, then edges order. */
export function renderGraph(format: DocumentFormat, lineage: LineageInParts): RenderedGraph {
  const { pieces, contentType } = allSteps(renderGraphInSteps(format, lineage));
  return { content: Buffer.concat(pieces).toString('utf8'), contentType };
}

/**
 * renderGraph, pausing (yield) after every EXPORT_STEP_SIZE jobs, edges or
 * document members, so that the caller can let other calls run between
 * steps on a large lineage (docs/decisions.md, "Large lineage answers");
 * the text comes as pieces, never joined whole. With recordsInParts (a
 * lineage whose records are read as it is rendered: LineageReadingRecords),
 * the lineage's nodes carry no records: the renderer asks for them a step
 * at a time (RenderPause).
 */
export function renderGraphInSteps(format: DocumentFormat, lineage: LineageInParts, recordsInParts = false): RenderSteps<RenderedDocument> {
  return RENDERERS[format](lineage, recordsInParts);
}
