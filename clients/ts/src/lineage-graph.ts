import { LineageNode, type CompactLineage, type Edge, type LineageRelation, type TruncationReason } from './gen/provenance/v1/lineage.js';
import type { GetLineageResponse } from './gen/provenance/v1/provenance_service.js';

/**
 * A GetLineage answer of the COMPACT view, read as the IDS view's answer:
 * `nodes` and `edges` hold what the IDS view would have sent, made from
 * `compact` on first read (and kept), so a caller that only walks the
 * packed arrays (`compact.jobIds`, `compact.edgeIndexes`) never pays for
 * them.
 */
export class LineageGraph implements GetLineageResponse {
  readonly root: LineageNode | undefined;
  readonly ancestorDepth: number;
  readonly descendantDepth: number;
  readonly truncated: boolean;
  readonly truncationReasons: TruncationReason[];
  readonly hiddenNodeCount: number;
  /** The packed answer: index 0 the root, index i the node nodes[i - 1]. */
  readonly compact: CompactLineage;
  private decodedNodes: LineageNode[] | undefined;
  private decodedEdges: Edge[] | undefined;

  /** response: an answer of the COMPACT view (its compact field set). */
  constructor(response: GetLineageResponse) {
    if (!response.compact) throw new Error('the answer has no compact lineage: ask GetLineage for LINEAGE_VIEW_COMPACT');
    this.root = response.root;
    this.ancestorDepth = response.ancestorDepth;
    this.descendantDepth = response.descendantDepth;
    this.truncated = response.truncated;
    this.truncationReasons = response.truncationReasons;
    this.hiddenNodeCount = response.hiddenNodeCount;
    this.compact = response.compact;
  }

  /** Ancestors and descendants, nearest first, without the root: as the IDS view's nodes. */
  get nodes(): LineageNode[] {
    if (this.decodedNodes) return this.decodedNodes;
    const { jobIds, depths, relations, restrictedIndexes, fanOutTruncatedIndexes, fanOutOmittedCounts } = this.compact;
    const restricted = new Set(restrictedIndexes);
    const nodes: LineageNode[] = new Array(Math.max(0, jobIds.length - 1));
    for (let i = 1; i < jobIds.length; i++) nodes[i - 1] = idsViewNode(jobIds[i]!, depths[i] ?? 0, relations[i] ?? 0, restricted.has(i));
    fanOutTruncatedIndexes.forEach((index, k) => {
      // Index 0 is the root, which the answer carries whole.
      if (index === 0 || index >= jobIds.length) return;
      nodes[index - 1]!.omittedChildCount = fanOutOmittedCounts[2 * k] ?? 0;
      nodes[index - 1]!.omittedParentCount = fanOutOmittedCounts[2 * k + 1] ?? 0;
    });
    return (this.decodedNodes = nodes);
  }

  /** Every parent-to-child edge among the root and the nodes, as ids: as the IDS view's edges, in its order. */
  get edges(): Edge[] {
    if (this.decodedEdges) return this.decodedEdges;
    const { jobIds, edgeIndexes } = this.compact;
    const edges: Edge[] = new Array(edgeIndexes.length >> 1);
    for (let k = 0; k < edges.length; k++) edges[k] = { parentJobId: jobIds[edgeIndexes[2 * k]!]!, childJobId: jobIds[edgeIndexes[2 * k + 1]!]! };
    return (this.decodedEdges = edges);
  }
}

/** A node as the IDS view sends it: id, depth and relation (and nothing else of a restricted placeholder either). */
function idsViewNode(jobId: string, depth: number, relation: LineageRelation, restricted: boolean): LineageNode {
  return { jobId, depth, relation, type: '', status: 0, cacheState: 0, restricted, job: undefined, omittedChildCount: 0, omittedParentCount: 0 };
}
