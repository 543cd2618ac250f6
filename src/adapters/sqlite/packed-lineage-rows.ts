import type { CacheState, JobStatus } from '../../domain/job.js';
import type { LineageRow } from '../../domain/lineage.js';
import type { LineageStepRow } from '../../domain/lineage-stream.js';
import { fromUtf8StringsInSteps, toUtf8Strings, type Utf8Strings } from '../../domain/utf8-strings.js';
import { Interned } from './lineage-graph.js';

/**
 * Lineage rows without records (ids and summary projections) as they cross
 * from the graph's thread: every string once, as UTF-8 back to back, and
 * the rows as indexes into them in two Int32Arrays; all their buffers are
 * moved, not copied. Rebuilding 100,000 rows from this takes a fraction of what the
 * structured clone of the row objects takes on the receiving thread
 * (docs/decisions.md, "SQLite lineage graph").
 */
export interface PackedLineageRows {
  /** The distinct strings the rows name (decoded in steps: one JSON text of a whole ancestry's ids was parsed in one block). */
  strings: Utf8Strings;
  /** JSON array of the distinct reader lists, each an array of string indexes. */
  readerLists: string;
  /** Per row, COLUMNS ints: job id, tenant, reader list, depth, type, status, cache state (NONE when absent), parent count. */
  columns: Int32Array<ArrayBuffer>;
  /** The parents of every row, in row order, as string indexes. */
  parents: Int32Array<ArrayBuffer>;
}

const COLUMNS = 8;
const NONE = -1;

export function packLineageRows(rows: readonly LineageRow[]): PackedLineageRows {
  const strings = new Interned<string>();
  const readerLists = new Interned<number[]>();
  const columns = new Int32Array(rows.length * COLUMNS);
  const parents: number[] = [];
  const optional = (value: string | undefined) => (value === undefined ? NONE : strings.index(value, value));
  rows.forEach((row, i) => {
    const readers = row.readers.map((reader) => strings.index(reader, reader));
    columns.set(
      [
        strings.index(row.jobId, row.jobId),
        strings.index(row.tenant, row.tenant),
        readerLists.index(readers.join(','), readers),
        row.depth!,
        optional(row.type),
        optional(row.status),
        optional(row.cacheState),
        row.parentIds.length,
      ],
      i * COLUMNS,
    );
    for (const parentId of row.parentIds) parents.push(strings.index(parentId, parentId));
  });
  return { strings: toUtf8Strings(strings.values), readerLists: JSON.stringify(readerLists.values), columns, parents: Int32Array.from(parents) };
}

/** The buffers of packed rows, which cross threads moved. */
export function packedBuffers(packed: PackedLineageRows): ArrayBuffer[] {
  return [packed.strings.utf8.buffer, packed.strings.offsets.buffer, packed.columns.buffer, packed.parents.buffer];
}

/** Rows unpacked between two pauses of unpackLineageRowsInSteps: a step takes a few milliseconds. */
export const ROWS_PER_STEP = 10_000;

/**
 * The rows packLineageRows packed (rows with equal reader lists share one
 * array), pausing (yield) after each ROWS_PER_STEP strings decoded and
 * then after each ROWS_PER_STEP rows, so that the receiving thread can
 * serve other calls between steps; it returns the rows.
 */
export function* unpackLineageRowsInSteps(packed: PackedLineageRows): Generator<void, LineageRow[]> {
  const strings = yield* fromUtf8StringsInSteps(packed.strings, ROWS_PER_STEP);
  const readerLists = (JSON.parse(packed.readerLists) as number[][]).map((list) => list.map((index) => strings[index]!));
  const { columns, parents } = packed;
  const rows = new Array<LineageRow>(columns.length / COLUMNS);
  let parent = 0;
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % ROWS_PER_STEP === 0) yield;
    const at = i * COLUMNS;
    const parentIds = new Array<string>(columns[at + 7]!);
    for (let p = 0; p < parentIds.length; p++) parentIds[p] = strings[parents[parent++]!]!;
    const row: LineageRow = { jobId: strings[columns[at]!]!, parentIds, tenant: strings[columns[at + 1]!]!, readers: readerLists[columns[at + 2]!]!, depth: columns[at + 3]! };
    if (columns[at + 4] !== NONE) {
      row.type = strings[columns[at + 4]!]!;
      row.status = strings[columns[at + 5]!] as JobStatus;
      row.cacheState = strings[columns[at + 6]!] as CacheState;
    }
    rows[i] = row;
  }
  return rows;
}

/**
 * StreamLineage's step rows (ProvenanceStore.lineageStep), packed the same
 * way for the same reason: each id once per step however many rows name it,
 * and the rows as indexes. A step holds a thousand jobs at most, so it is
 * unpacked at once.
 */
export interface PackedLineageStepRows {
  /** JSON array of the distinct strings the rows name. */
  strings: string;
  /** JSON array of the distinct reader lists, each an array of string indexes. */
  readerLists: string;
  /** Per row, STEP_COLUMNS ints: job id, tenant, reader list, parent count, child count. */
  columns: Int32Array<ArrayBuffer>;
  /** Every row's parents then its children, in row order, as string indexes. */
  neighbours: Int32Array<ArrayBuffer>;
}

const STEP_COLUMNS = 5;

export function packLineageStepRows(rows: readonly LineageStepRow[]): PackedLineageStepRows {
  const strings = new Interned<string>();
  const readerLists = new Interned<number[]>();
  const columns = new Int32Array(rows.length * STEP_COLUMNS);
  const neighbours: number[] = [];
  rows.forEach((row, i) => {
    const readers = row.readers.map((reader) => strings.index(reader, reader));
    columns.set([strings.index(row.jobId, row.jobId), strings.index(row.tenant, row.tenant), readerLists.index(readers.join(','), readers), row.parentIds.length, row.childIds.length], i * STEP_COLUMNS);
    for (const parentId of row.parentIds) neighbours.push(strings.index(parentId, parentId));
    for (const childId of row.childIds) neighbours.push(strings.index(childId, childId));
  });
  return { strings: JSON.stringify(strings.values), readerLists: JSON.stringify(readerLists.values), columns, neighbours: Int32Array.from(neighbours) };
}

/** The rows packLineageStepRows packed (rows with equal reader lists share one array). */
export function unpackLineageStepRows(packed: PackedLineageStepRows): LineageStepRow[] {
  const strings = JSON.parse(packed.strings) as string[];
  const readerLists = (JSON.parse(packed.readerLists) as number[][]).map((list) => list.map((index) => strings[index]!));
  const { columns, neighbours } = packed;
  const ids = (count: number, from: number) => {
    const list = new Array<string>(count);
    for (let k = 0; k < count; k++) list[k] = strings[neighbours[from + k]!]!;
    return list;
  };
  const rows = new Array<LineageStepRow>(columns.length / STEP_COLUMNS);
  let next = 0;
  for (let i = 0; i < rows.length; i++) {
    const at = i * STEP_COLUMNS;
    const [parentCount, childCount] = [columns[at + 3]!, columns[at + 4]!];
    rows[i] = { jobId: strings[columns[at]!]!, parentIds: ids(parentCount, next), tenant: strings[columns[at + 1]!]!, readers: readerLists[columns[at + 2]!]!, childIds: ids(childCount, next + parentCount) };
    next += parentCount + childCount;
  }
  return rows;
}
