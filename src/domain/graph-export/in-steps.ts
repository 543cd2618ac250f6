import type { LineageInParts, LineageNode } from '../lineage.js';
import { exportedNode, exportedRow, type ExportedJob } from './exported-jobs.js';

/**
 * Jobs, edges or document members handled between two pauses of an export
 * document's rendering (renderGraphInSteps): a step takes a few
 * milliseconds on a large lineage (a PROV-JSON step of 1,000 jobs took up
 * to 48 ms of CPU on the loaded 2-core machine).
 */
export const EXPORT_STEP_SIZE = 250;

/** Writes per piece of a TextPieces: a piece joins the text of a step or so. */
const WRITES_PER_PIECE = 4 * EXPORT_STEP_SIZE;

/**
 * Text written a string at a time, kept as pieces of WRITES_PER_PIECE
 * strings each, joined and encoded as UTF-8 as they fill: a whole
 * ancestry's PROV-JSON is tens of MB, which as strings would sit in the
 * JavaScript heap until the answer is sent, to be marked by every full
 * collection meanwhile; as bytes it is outside it.
 */
export class TextPieces {
  private readonly pieces: Buffer[] = [];
  private pending: string[] = [];

  write(text: string): void {
    this.pending.push(text);
    if (this.pending.length >= WRITES_PER_PIECE) this.endPiece();
  }

  /** The pieces of everything written, as UTF-8. */
  done(): Buffer[] {
    this.endPiece();
    return this.pieces;
  }

  private endPiece(): void {
    if (this.pending.length === 0) return;
    this.pieces.push(Buffer.from(this.pending.join(''), 'utf8'));
    this.pending = [];
  }
}

/** Calls visit(0) to visit(count - 1), pausing (yield) after every EXPORT_STEP_SIZE calls. */
export function* eachInSteps(count: number, visit: (index: number) => void): Generator<void, void> {
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % EXPORT_STEP_SIZE === 0) yield;
    visit(i);
  }
}

/**
 * A pause of a renderer: nothing, to let other work run, or the range of
 * nodes whose records it needs next, when its lineage's records are read as
 * it is rendered (LineageReadingRecords); whoever drives it resumes it with
 * those nodes read, in the same order.
 */
export type RenderPause = void | { readRecords: { from: number; to: number } };

/** A renderer's steps (RenderPause), returning T. */
export type RenderSteps<T> = Generator<RenderPause, T, ReadonlyArray<LineageNode> | undefined>;

/**
 * Visits the export's jobs in order (the root, then the nodes), pausing
 * after every EXPORT_STEP_SIZE nodes. With recordsInParts, the nodes are
 * asked for with their records EXPORT_STEP_SIZE at a time (RenderPause)
 * and visited as they come back: a node whose job the caller may no longer
 * read comes back restricted, and is visited so.
 */
export function* eachJobInSteps(lineage: LineageInParts, visit: (job: ExportedJob) => void, recordsInParts = false): RenderSteps<void> {
  visit(exportedRow(lineage.root));
  for (let from = 0; from < lineage.nodes.length; from += EXPORT_STEP_SIZE) {
    const to = Math.min(from + EXPORT_STEP_SIZE, lineage.nodes.length);
    const nodes = recordsInParts ? yield { readRecords: { from, to } } : lineage.nodes.slice(from, to);
    if (!nodes) throw new Error('a renderer reading records in parts was resumed without them');
    for (const node of nodes) visit(exportedNode(node));
    if (!recordsInParts) yield;
  }
}

/**
 * Visits the lineage's edges in order, as the export indexes of their
 * parent and child (0 the root, i the lineage's node i - 1: the order
 * eachJobInSteps visits them in), pausing after every EXPORT_STEP_SIZE. A
 * renderer names an edge's ends by what it wrote for those jobs, so that a
 * node read restricted since the walk (recordsInParts) is named by its
 * placeholder in its edges too.
 */
export function* eachEdgeInSteps(lineage: Pick<LineageInParts, 'edgeIndexes'>, visit: (parentIndex: number, childIndex: number) => void): Generator<void, void> {
  const { edgeIndexes } = lineage;
  yield* eachInSteps(edgeIndexes.length / 2, (k) => visit(edgeIndexes[2 * k]!, edgeIndexes[2 * k + 1]!));
}

/** Runs steps to their end without pausing: for callers that need no turns between them (tests, small documents), of renderers that read no records. */
export function allSteps<T>(steps: Generator<unknown, T, undefined>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}
