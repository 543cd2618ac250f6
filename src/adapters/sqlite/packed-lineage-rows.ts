import type { CacheState, JobStatus } from '../../domain/job.js';
import type { LineageRow } from '../../domain/lineage.js';
import { Interned } from './lineage-graph.js';

/**
 * Lineage rows without records (ids and summary projections) as they cross
 * from the graph's thread: every string once, in one JSON text, and the rows
 * as indexes into it in two Int32Arrays, whose buffers are moved, not
 * copied. Rebuilding 100,000 rows from this takes a fraction of what the
 * structured clone of the row objects takes on the receiving thread
 * (docs/decisions.md, "SQLite lineage graph").
 */
export interface PackedLineageRows {
  /** JSON array of the distinct strings the rows name. */
  strings: string;
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
  return { strings: JSON.stringify(strings.values), readerLists: JSON.stringify(readerLists.values), columns, parents: Int32Array.from(parents) };
}

/** Rows unpacked between two pauses of unpackLineageRowsInSteps: a step takes a few milliseconds. */
export const ROWS_PER_STEP = 10_000;

/**
 * The rows packLineageRows packed (rows with equal reader lists share one
 * array), pausing (yield) after each ROWS_PER_STEP rows, so that the
 * receiving thread can serve other calls between steps; it returns the rows.
 */
export function* unpackLineageRowsInSteps(packed: PackedLineageRows): Generator<void, LineageRow[]> {
  const strings = JSON.parse(packed.strings) as string[];
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
