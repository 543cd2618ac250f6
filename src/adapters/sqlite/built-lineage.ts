import type { LineageRow, TruncationReason } from '../../domain/lineage.js';
import type { BuiltLineage } from '../../domain/ports/provenance-store.js';
import type { Utf8Strings } from '../../domain/utf8-strings.js';

/**
 * A lineage built on the graph's thread from its interned indexes
 * (LineageGraph.built), as it crosses to the thread that serves calls: the
 * nodes' ids as UTF-8 and everything else as ints, in typed arrays whose
 * buffers are moved, and who may read the nodes (a few distinct tenants
 * and reader lists) in one JSON text. No row object, parent id string or
 * map keyed by id on either thread (docs/decisions.md, "Lineage built on
 * the graph").
 */
export interface PackedBuiltLineage {
  /** The nodes' ids, nearest first. */
  jobIds: Utf8Strings;
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
  return [packed.jobIds.utf8.buffer, packed.jobIds.offsets.buffer, packed.depths.buffer, packed.relations.buffer, packed.accessIndexes.buffer, packed.edgeIndexes.buffer];
}

export function unpackBuiltLineage(packed: PackedBuiltLineage): BuiltLineage {
  const { jobIds, depths, relations, accessIndexes, edgeIndexes, truncation, ancestorDepth, descendantDepth } = packed;
  const accesses = JSON.parse(packed.accesses) as Array<Pick<LineageRow, 'tenant' | 'readers'>>;
  return { columns: { jobIds, depths, relations, accessIndexes, accesses }, edgeIndexes, truncation, ancestorDepth, descendantDepth };
}
