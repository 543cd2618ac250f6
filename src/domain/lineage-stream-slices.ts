import type { Lineage } from './lineage.js';
import { comparePositions, LINEAGE_STREAM_SLICE_NODES, positionOf, type StreamPosition } from './lineage-stream.js';

/**
 * A StreamLineage with a filter or a fan-out cap: a lineage walked and shaped
 * whole (as GetLineage's), cut into messages of at most
 * LINEAGE_STREAM_SLICE_NODES nodes in the lineage's order (nearest first),
 * each with the edges it completes, so that a client that resumes after any
 * message gets the rest, nothing twice. An unshaped stream walks as it sends
 * instead (lineage-stream.ts).
 */

/** The messages of a stream: each covers positions [from, to) of [root, ...nodes]; position 0 is the root. */
export interface StreamSlice {
  from: number;
  to: number;
}

/** The position, in [root, ...nodes], of the first node after the given one in the lineage's order (nodes are nearest first, as the caller is shown them: restricted ones under their placeholders). */
export function firstPositionAfter(lineage: Pick<Lineage, 'nodes'>, after: StreamPosition): number {
  if (after.relation === 'ROOT') return 1;
  const nodes = lineage.nodes;
  let low = 0;
  let high = nodes.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const node = nodes[middle]!;
    if (comparePositions(positionOf(node), after) <= 0) low = middle + 1;
    else high = middle;
  }
  return low + 1;
}

/** The slices from position start to the end of [root, ...nodes]; the root's slice holds the root and up to the slice size of nodes. */
export function* streamSlices(nodeCount: number, start: number, sliceNodes = LINEAGE_STREAM_SLICE_NODES): Generator<StreamSlice> {
  const end = nodeCount + 1;
  if (start >= end) {
    // A stream resumed after its last message: one empty closing message, so that the client still hears the stream is complete.
    yield { from: end, to: end };
    return;
  }
  for (let from = start; from < end; ) {
    const to = Math.min(end, from === 0 ? 1 + sliceNodes : from + sliceNodes);
    yield { from, to };
    from = to;
  }
}

/**
 * The lineage's edges grouped by their later endpoint (the larger of the two
 * positions in [root, ...nodes]): edges of the message that holds that
 * position are edgeNumbers[starts[from]] up to edgeNumbers[starts[to]], in
 * the lineage's edge order. A counting sort: linear in the edges.
 */
export function edgesByLaterEndpoint(edgeIndexes: readonly number[], nodeCount: number): { starts: Uint32Array; edgeNumbers: Uint32Array } {
  const edgeCount = edgeIndexes.length / 2;
  const starts = new Uint32Array(nodeCount + 2);
  for (let k = 0; k < edgeCount; k++) starts[Math.max(edgeIndexes[2 * k]!, edgeIndexes[2 * k + 1]!) + 1]!++;
  for (let i = 1; i < starts.length; i++) starts[i]! += starts[i - 1]!;
  const next = starts.slice();
  const edgeNumbers = new Uint32Array(edgeCount);
  for (let k = 0; k < edgeCount; k++) edgeNumbers[next[Math.max(edgeIndexes[2 * k]!, edgeIndexes[2 * k + 1]!)]!++] = k;
  return { starts, edgeNumbers };
}
