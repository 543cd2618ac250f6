import { lineageEdges, type Lineage, type LineageEdge } from '../lineage.js';
import { exportedJob, exportedJobCount, type ExportedJob } from './exported-jobs.js';

/**
 * Jobs, edges or document members handled between two pauses of an export
 * document's rendering (renderGraphInSteps): a step takes a few
 * milliseconds on a large lineage.
 */
export const EXPORT_STEP_SIZE = 2000;

/** Writes per piece of a TextPieces: a piece joins the text of a step or so. */
const WRITES_PER_PIECE = 4 * EXPORT_STEP_SIZE;

/** Text written a string at a time, kept as pieces of WRITES_PER_PIECE strings each, joined as they fill. */
export class TextPieces {
  private readonly pieces: string[] = [];
  private pending: string[] = [];

  write(text: string): void {
    this.pending.push(text);
    if (this.pending.length >= WRITES_PER_PIECE) this.endPiece();
  }

  /** The pieces of everything written. */
  done(): string[] {
    this.endPiece();
    return this.pieces;
  }

  private endPiece(): void {
    if (this.pending.length === 0) return;
    this.pieces.push(this.pending.join(''));
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

/** Visits the export's jobs in order (exportedJob), pausing after every EXPORT_STEP_SIZE. */
export function eachJobInSteps(lineage: Lineage, visit: (job: ExportedJob) => void): Generator<void, void> {
  return eachInSteps(exportedJobCount(lineage), (index) => visit(exportedJob(lineage, index)));
}

/** Visits the lineage's edges in order (lineageEdges), pausing after every EXPORT_STEP_SIZE. */
export function* eachEdgeInSteps(lineage: Lineage, visit: (edge: LineageEdge) => void): Generator<void, void> {
  const count = lineage.edgeIndexes.length / 2;
  for (let from = 0; from < count; from += EXPORT_STEP_SIZE) {
    if (from > 0) yield;
    for (const edge of lineageEdges(lineage, from, from + EXPORT_STEP_SIZE)) visit(edge);
  }
}

/**
 * JSON.stringify(value, null, 2), written to out in steps: an object or an array of
 * more than EXPORT_STEP_SIZE members, or holding one, is written a member at
 * a time, with a pause after every EXPORT_STEP_SIZE members; smaller values
 * in one call of JSON.stringify each. For plain data (no undefined, no
 * toJSON), as the documents are.
 */
export function* prettyJsonInSteps(value: unknown, out: TextPieces): Generator<void, void> {
  let written = 0;
  function* write(item: unknown, indent: string): Generator<void, void> {
    if (!isLarge(item)) {
      // JSON escapes line breaks inside strings: the only ones in its text are its own, which take the indentation of where it stands.
      out.write(JSON.stringify(item, null, 2).replace(/\n/g, `\n${indent}`));
      return;
    }
    const inner = `${indent}  `;
    const list = Array.isArray(item);
    const entries: Array<[string | undefined, unknown]> = list ? item.map((member) => [undefined, member]) : Object.entries(item as object);
    out.write(list ? '[' : '{');
    for (let i = 0; i < entries.length; i++) {
      const [key, member] = entries[i]!;
      out.write(i === 0 ? `\n${inner}` : `,\n${inner}`);
      if (key !== undefined) out.write(`${JSON.stringify(key)}: `);
      yield* write(member, inner);
      if (++written % EXPORT_STEP_SIZE === 0) yield;
    }
    out.write(`\n${indent}${list ? ']' : '}'}`);
  }
  yield* write(value, '');
}

/** An object or an array of more than EXPORT_STEP_SIZE members, or holding one at any depth. */
function isLarge(item: unknown): boolean {
  if (item === null || typeof item !== 'object') return false;
  const members = Array.isArray(item) ? item : Object.values(item);
  return members.length > EXPORT_STEP_SIZE || members.some(isLarge);
}

/** Runs steps to their end without pausing: for callers that need no turns between them (tests, small documents). */
export function allSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}
