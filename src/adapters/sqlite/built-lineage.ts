import type { LineageNode, LineageRelation, LineageRow, TruncationReason } from '../../domain/lineage.js';
import { LINEAGE_STEP_SIZE } from '../../domain/lineage.js';
import type { BuiltLineage } from '../../domain/ports/provenance-store.js';

/**
 * A lineage answer built on the graph's thread from its interned indexes
 * (LineageGraph.built): what buildLineage would build from the rows, without
 * a row object, a parent id string or a map keyed by id on either thread.
 * The nodes' ids cross as one JSON text; everything else as ints in typed
 * arrays whose buffers are moved (docs/decisions.md, "Lineage built on the
 * graph").
 */
export interface PackedBuiltLineage {
  /** JSON array of the nodes' ids, nearest first. */
  ids: string;
  /** JSON array of the tenants the nodes name. */
  tenants: string;
  /** JSON array of the reader lists the nodes name. */
  readerLists: string;
  /** Per node, BUILT_COLUMNS ints: depth, relation (0 ancestor, 1 descendant), tenant, reader list. */
  columns: Int32Array<ArrayBuffer>;
  /** The edges as index pairs into [root, ...nodes] (Lineage.edgeIndexes). */
  edgeIndexes: Int32Array<ArrayBuffer>;
  truncation: TruncationReason[];
  ancestorDepth: number;
  descendantDepth: number;
}

export const BUILT_COLUMNS = 4;

/** A row's parents are not sent: the edges say them (BuiltLineage). */
const NO_PARENT_IDS: string[] = [];
const RELATIONS: LineageRelation[] = ['ANCESTOR', 'DESCENDANT'];

/** The nodes of a packed answer, LINEAGE_STEP_SIZE per step (yield), so that the receiving thread serves other calls between steps. */
export function* unpackBuiltLineageInSteps(packed: PackedBuiltLineage): Generator<void, BuiltLineage> {
  const ids = JSON.parse(packed.ids) as string[];
  yield;
  const tenants = JSON.parse(packed.tenants) as string[];
  const readerLists = JSON.parse(packed.readerLists) as string[][];
  const { columns } = packed;
  const nodes = new Array<LineageNode>(ids.length);
  for (let i = 0; i < ids.length; i++) {
    if (i > 0 && i % LINEAGE_STEP_SIZE === 0) yield;
    const at = i * BUILT_COLUMNS;
    const row: LineageRow = { jobId: ids[i]!, parentIds: NO_PARENT_IDS, tenant: tenants[columns[at + 2]!]!, readers: readerLists[columns[at + 3]!]! };
    nodes[i] = { row, depth: columns[at]!, relation: RELATIONS[columns[at + 1]!]! };
  }
  yield;
  // A loop: Array.from takes several times as long.
  const edgeIndexes = new Array<number>(packed.edgeIndexes.length);
  for (let k = 0; k < edgeIndexes.length; k++) edgeIndexes[k] = packed.edgeIndexes[k]!;
  return { nodes, edgeIndexes, truncation: packed.truncation, ancestorDepth: packed.ancestorDepth, descendantDepth: packed.descendantDepth };
}
