import type { LineageRow, TruncationReason } from '../../domain/lineage.js';
import type { BuiltLineage } from '../../domain/ports/provenance-store.js';

/**
 * A lineage built on the graph's thread from its interned indexes
 * (LineageGraph.built), as it crosses to the thread that serves calls: the
 * nodes' ids in one JSON text, everything else ints in typed arrays whose
 * buffers are moved. No row object, parent id string or map keyed by id on
 * either thread (docs/decisions.md, "Lineage built on the graph").
 */
export interface PackedBuiltLineage {
  /** JSON array of the nodes' ids, nearest first. */
  jobIds: string;
  /** JSON array of who may read the nodes: each distinct tenant and reader list the nodes have. */
  accesses: string;
  depths: Int32Array<ArrayBuffer>;
  relations: Uint8Array<ArrayBuffer>;
  accessIndexes: Int32Array<ArrayBuffer>;
  /** The edges as index pairs into [root, ...nodes] (Lineage.edgeIndexes). */
  edgeIndexes: Int32Array<ArrayBuffer>;
  truncation: TruncationReason[];
  ancestorDepth: number;
  descendantDepth: number;
}

/** The buffers a packed lineage moves to the receiving thread. */
export function movedBuffers(packed: PackedBuiltLineage): ArrayBuffer[] {
  return [packed.depths.buffer, packed.relations.buffer, packed.accessIndexes.buffer, packed.edgeIndexes.buffer];
}

export function unpackBuiltLineage(packed: PackedBuiltLineage): BuiltLineage {
  const { depths, relations, accessIndexes, edgeIndexes, truncation, ancestorDepth, descendantDepth } = packed;
  const jobIds = JSON.parse(packed.jobIds) as string[];
  const accesses = JSON.parse(packed.accesses) as Array<Pick<LineageRow, 'tenant' | 'readers'>>;
  return { columns: { jobIds, depths, relations, accessIndexes, accesses }, edgeIndexes, truncation, ancestorDepth, descendantDepth };
}
