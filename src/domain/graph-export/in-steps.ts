import { lineageEdges, type Lineage, type LineageEdge } from '../lineage.js';
import { exportedJob, exportedJobCount, type ExportedJob } from './exported-jobs.js';

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

/**
 * An object's members in the order added, for an object of tens of
 * thousands (a PROV-JSON kind): written as that object by JSON.stringify
 * and prettyJsonInSteps. Keys must be distinct. Unlike a Map's, its growth
 * never rehashes every key in one block.
 */
export class ObjectMembers<V> {
  readonly entries: [string, V][] = [];

  add(key: string, value: V): void {
    this.entries.push([key, value]);
  }

  get size(): number {
    return this.entries.length;
  }

  toJSON(): Record<string, V> {
    return Object.fromEntries(this.entries);
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
 * JSON.stringify(value, null, 2), written to out in steps, where a Map is
 * written as the object of its entries, in its order (a document's large
 * objects are Maps: listing the keys of an object of tens of thousands held
 * the event loop for a tenth of a second and more). An object, a Map or an
 * array of more than EXPORT_STEP_SIZE members, or holding one, is written a
 * member at a time, with a pause after every EXPORT_STEP_SIZE members;
 * smaller values in one call of JSON.stringify each. For plain data (no
 * undefined, no toJSON, string keys), as the documents are.
 */
export function* prettyJsonInSteps(value: unknown, out: TextPieces): Generator<void, void> {
  let written = 0;
  function* write(item: unknown, indent: string): Generator<void, void> {
    if (!isLarge(item)) {
      // JSON escapes line breaks inside strings: the only ones in its text are its own, which take the indentation of where it stands.
      const text = holdsMap(item) ? JSON.stringify(item, mapsAsObjects, 2) : JSON.stringify(item, null, 2);
      out.write(text.replace(/\n/g, `\n${indent}`));
      return;
    }
    const inner = `${indent}  `;
    const list = Array.isArray(item);
    out.write(list ? '[' : '{');
    let first = true;
    for (const [key, member] of membersOf(item as object)) {
      out.write(first ? `\n${inner}` : `,\n${inner}`);
      first = false;
      if (key !== undefined) out.write(`${JSON.stringify(key)}: `);
      yield* write(member, inner);
      if (++written % EXPORT_STEP_SIZE === 0) yield;
    }
    out.write(`\n${indent}${list ? ']' : '}'}`);
  }
  yield* write(value, '');
}

/** An array's members (without keys), a Map's or an object's entries, in the order JSON.stringify writes them. */
function* membersOf(item: object): Generator<[string | undefined, unknown]> {
  if (Array.isArray(item)) for (const member of item as unknown[]) yield [undefined, member];
  else yield* item instanceof Map ? (item as Map<string, unknown>) : item instanceof ObjectMembers ? (item.entries as [string, unknown][]) : Object.entries(item);
}

/** Whether a Map is in the value, at any depth: JSON.stringify writes one as {} unless told otherwise (mapsAsObjects). */
function holdsMap(item: unknown): boolean {
  if (item === null || typeof item !== 'object') return false;
  if (item instanceof Map) return true;
  const members = item instanceof ObjectMembers ? item.entries.map(([, value]) => value) : Array.isArray(item) ? item : Object.values(item);
  for (const member of members) if (holdsMap(member)) return true;
  return false;
}

/** A JSON.stringify replacer: a Map as the object of its entries (Object.fromEntries defines each key, __proto__ too). */
function mapsAsObjects(_key: string, value: unknown): unknown {
  return value instanceof Map ? Object.fromEntries(value) : value;
}

/** An object, a Map or an array of more than EXPORT_STEP_SIZE members, or holding one at any depth. */
function isLarge(item: unknown): boolean {
  if (item === null || typeof item !== 'object') return false;
  const size = item instanceof Map || item instanceof ObjectMembers ? item.size : Array.isArray(item) ? item.length : Object.keys(item).length;
  if (size > EXPORT_STEP_SIZE) return true;
  const members = item instanceof Map ? item.values() : item instanceof ObjectMembers ? item.entries.map(([, value]) => value) : Array.isArray(item) ? item : Object.values(item);
  for (const member of members) if (isLarge(member)) return true;
  return false;
}

/** Runs steps to their end without pausing: for callers that need no turns between them (tests, small documents). */
export function allSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}
