import { ProvenanceError } from './errors.js';
import type { LineageDirection, LineageNode, LineageRow } from './lineage.js';

/**
 * Filters and per-hop fan-out caps of a lineage (docs/decisions.md, "Lineage
 * filters and fan-out caps"), applied to the jobs within the maximum depth,
 * sorted nearest first, before the node limit:
 *
 * 1. The filter chooses the jobs. COLLAPSE keeps the matching ones and joins
 *    a to b when a reaches b through non-matching jobs only; PRUNE keeps the
 *    matching jobs that a path of matching jobs joins to the root, and the
 *    edges among them. The root is always kept.
 * 2. The caps choose the edges: from the root and each descendant, its first
 *    max_children children (in the lineage's order); from the root and each
 *    ancestor, its first max_parents parents. A job is kept when kept edges
 *    join it to the root; other edges (an ancestor's edge to a descendant)
 *    are kept between kept jobs. Each job counts the edges its cap left out.
 *
 * Depths are never changed: every job keeps its true shortest depth from the
 * root. Nothing here reads a store; the caller says which jobs match.
 */

export type LineageFilterMode = 'COLLAPSE' | 'PRUNE';

export interface LineageSelection {
  /** Whether a job passes the filter; absent: no filter. Not asked of the root, which is always kept. */
  matches?: (row: LineageRow) => boolean;
  mode: LineageFilterMode;
  /** 0: no cap. */
  maxChildrenPerNode: number;
  maxParentsPerNode: number;
}

/** How many of a job's children and parents the fan-out caps left out. */
export interface FanOut {
  omittedChildren: number;
  omittedParents: number;
}

/**
 * What a COLLAPSE filter may cost (collapsedParents): its edges (collapsed
 * edges can be quadratic in the jobs: a non-matching hub between m matching
 * parents and m matching children gives m² edges; 1,000,000 is five times
 * the edges of the largest plain answer on the bench graph); the work of
 * its sets (the lineage's edges × the matching jobs / 32, about a second);
 * the sets held at once (32 MB). Past any, RESOURCE_EXHAUSTED.
 */
export const COLLAPSE_LIMITS = { edges: 1_000_000, wordOperations: 400_000_000, liveWords: 8_000_000 };

/** Rows, edges or visits handled between two pauses. */
const STEP = 10_000;

export function isSelective(selection: LineageSelection | undefined): selection is LineageSelection {
  return selection !== undefined && (selection.matches !== undefined || selection.maxChildrenPerNode > 0 || selection.maxParentsPerNode > 0);
}

export interface SelectedLineage {
  /** The kept nodes, in the order given (a subsequence). */
  nodes: LineageNode[];
  /** Edge k from index edgeIndexes[2k] to edgeIndexes[2k + 1] of [root, ...nodes], by child index, then parent index. */
  edgeIndexes: number[];
  /** By index into [root, ...nodes]: only the jobs whose caps left something out. */
  fanOut: Map<number, FanOut>;
}

/** side[position]: 0 for the root. */
const ANCESTOR = 1;
const DESCENDANT = 2;

/** Applies the selection to the root and the nodes within the maximum depth, sorted nearest first. */
export function* selectLineage(root: LineageRow, nodes: readonly LineageNode[], selection: LineageSelection): Generator<void, SelectedLineage> {
  const count = nodes.length + 1;
  const rowAt = (position: number) => (position === 0 ? root : nodes[position - 1]!.row);
  const side = new Uint8Array(count);
  const position = new Map<string, number>([[root.jobId, 0]]);
  for (let i = 0; i < nodes.length; i++) {
    side[i + 1] = nodes[i]!.relation === 'ANCESTOR' ? ANCESTOR : DESCENDANT;
    position.set(nodes[i]!.row.jobId, i + 1);
  }
  // The lineage's edges, by child then parent position.
  const parentsOf: number[][] = new Array(count);
  for (let child = 0; child < count; child++) {
    if (child % STEP === 0) yield;
    const list: number[] = [];
    for (const id of rowAt(child).parentIds) {
      const parent = position.get(id);
      if (parent !== undefined) list.push(parent);
    }
    parentsOf[child] = list.sort((a, b) => a - b);
  }
  const lineage = graphOf(parentsOf);
  yield;

  const member = new Uint8Array(count);
  member[0] = 1;
  for (let p = 1; p < count; p++) {
    if (p % STEP === 0) yield;
    member[p] = !selection.matches || selection.matches(rowAt(p)) ? 1 : 0;
  }
  let answer = lineage;
  let inAnswer: Uint8Array = member;
  if (selection.matches) {
    if (selection.mode === 'PRUNE') {
      inAnswer = yield* reachable(lineage, side, member);
      answer = graphOf(parentsOf.map((parents, child) => (inAnswer[child] ? parents.filter((p) => inAnswer[p]) : [])));
    } else {
      answer = graphOf(yield* collapsedParents(lineage, member));
    }
  }
  yield;

  let kept: Uint8Array = inAnswer;
  let keptParentsOf: number[][] = answer.parents;
  const fanOut = new Map<number, FanOut>();
  if (selection.maxChildrenPerNode > 0 || selection.maxParentsPerNode > 0) {
    ({ kept, keptParentsOf } = yield* capped(answer, side, inAnswer, selection, fanOut));
  }

  // Renumber: the kept nodes keep their order.
  const newIndex = new Int32Array(count).fill(-1);
  const keptNodes: LineageNode[] = [];
  newIndex[0] = 0;
  for (let p = 1; p < count; p++) {
    if (kept[p]) {
      keptNodes.push(nodes[p - 1]!);
      newIndex[p] = keptNodes.length;
    }
  }
  const edgeIndexes: number[] = [];
  for (let child = 0; child < count; child++) {
    if (child % STEP === 0) yield;
    if (!kept[child]) continue;
    for (const parent of keptParentsOf[child]!) if (kept[parent]) edgeIndexes.push(newIndex[parent]!, newIndex[child]!);
  }
  const renumbered = new Map<number, FanOut>();
  for (const [p, counts] of fanOut) renumbered.set(newIndex[p]!, counts);
  return { nodes: keptNodes, edgeIndexes, fanOut: renumbered };
}

interface Graph {
  /** By position: parents ascending. */
  parents: number[][];
  /** By position: children ascending. */
  children: number[][];
}

function graphOf(parents: number[][]): Graph {
  const children: number[][] = parents.map(() => []);
  // Children ascending: pushed in child order.
  parents.forEach((list, child) => {
    for (const parent of list) children[parent]!.push(child);
  });
  return { parents, children };
}

/** The positions the root reaches through members only, walking children to descendants and parents to ancestors. */
function* reachable(graph: Graph, side: Uint8Array, member: Uint8Array): Generator<void, Uint8Array> {
  const reached = new Uint8Array(graph.parents.length);
  reached[0] = 1;
  const queue = [0];
  for (let head = 0; head < queue.length; head++) {
    if (head % STEP === 0) yield;
    const from = queue[head]!;
    const visit = (to: number) => {
      if (reached[to] || !member[to]) return;
      reached[to] = 1;
      queue.push(to);
    };
    if (side[from] !== ANCESTOR) for (const child of graph.children[from]!) if (side[child] === DESCENDANT) visit(child);
    if (side[from] !== DESCENDANT) for (const parent of graph.parents[from]!) if (side[parent] === ANCESTOR) visit(parent);
  }
  return reached;
}

/**
 * COLLAPSE's edges, as parent lists by child: a -> b when both match and a
 * reaches b through non-matching jobs only. In an order that puts parents
 * first, each job gets the set of matching jobs that reach it so (a bitset
 * over the matching jobs): a matching parent itself, a non-matching one's
 * set; a non-matching job's set is kept only until its last child has read
 * it. Linear in the lineage's edges times the matching jobs / 32.
 */
function* collapsedParents(graph: Graph, member: Uint8Array): Generator<void, number[][]> {
  const count = member.length;
  const bitOf = new Int32Array(count).fill(-1);
  const memberAt: number[] = [];
  for (let p = 0; p < count; p++) {
    if (!member[p]) continue;
    bitOf[p] = memberAt.length;
    memberAt.push(p);
  }
  const words = Math.ceil(memberAt.length / 32);
  // A set is made for each non-matching job and each matching one with a non-matching parent, and grows by each non-matching parent's.
  let setOperations = 0;
  for (let p = 0; p < count; p++) {
    let fromSets = 0;
    for (const parent of graph.parents[p]!) if (!member[parent]) fromSets++;
    if (!member[p] || fromSets > 0) setOperations += 1 + fromSets;
  }
  if (setOperations * words > COLLAPSE_LIMITS.wordOperations) throw collapseTooLarge(`would take ${setOperations} set operations over ${memberAt.length} matching jobs`);
  const order = yield* parentsFirst(graph);
  const remainingChildren = new Int32Array(count);
  for (let p = 0; p < count; p++) remainingChildren[p] = graph.children[p]!.length;
  const reachedBy: Array<Int32Array | undefined> = new Array(count);
  const free: Int32Array[] = [];
  let liveWords = 0;
  const take = (): Int32Array => {
    const reused = free.pop();
    if (reused) return reused.fill(0);
    liveWords += words;
    if (liveWords > COLLAPSE_LIMITS.liveWords) throw collapseTooLarge(`would hold more than ${COLLAPSE_LIMITS.liveWords} words of sets at once`);
    return new Int32Array(words);
  };
  const parents: number[][] = Array.from({ length: count }, () => []);
  let collapsedEdges = 0;
  for (let i = 0; i < order.length; i++) {
    if (i % STEP === 0) yield;
    const at = order[i]!;
    const ownParents = graph.parents[at]!;
    if (member[at] && ownParents.every((parent) => member[parent])) {
      // Only matching parents: the lineage's own edges, and no set to make.
      parents[at] = ownParents.slice();
      collapsedEdges += ownParents.length;
      if (collapsedEdges > COLLAPSE_LIMITS.edges) throw collapseTooLarge(`has more than ${COLLAPSE_LIMITS.edges} edges`);
      for (const parent of ownParents) remainingChildren[parent]!--;
      continue;
    }
    const set = take();
    for (const parent of ownParents) {
      if (member[parent]) set[bitOf[parent]! >>> 5]! |= 1 << (bitOf[parent]! & 31);
      else {
        const above = reachedBy[parent];
        if (above) for (let w = 0; w < words; w++) set[w]! |= above[w]!;
      }
      if (--remainingChildren[parent]! === 0 && reachedBy[parent]) {
        free.push(reachedBy[parent]!);
        reachedBy[parent] = undefined;
      }
    }
    if (member[at]) {
      const list = parents[at]!;
      for (let w = 0; w < words; w++) {
        for (let bits = set[w]!; bits !== 0; bits &= bits - 1) list.push(memberAt[w * 32 + 31 - Math.clz32(bits & -bits)]!);
      }
      collapsedEdges += list.length;
      if (collapsedEdges > COLLAPSE_LIMITS.edges) throw collapseTooLarge(`has more than ${COLLAPSE_LIMITS.edges} edges`);
      free.push(set);
    } else if (remainingChildren[at]! > 0) reachedBy[at] = set;
    else free.push(set);
  }
  // Bits in position order: each list is ascending already.
  return parents;
}

/** The positions in an order that puts every parent before its children (Kahn); a job on a cycle (never stored now, older data may hold one) is left out. */
function* parentsFirst(graph: Graph): Generator<void, Int32Array> {
  const count = graph.parents.length;
  const waiting = new Int32Array(count);
  const order = new Int32Array(count);
  let placed = 0;
  for (let p = 0; p < count; p++) {
    waiting[p] = graph.parents[p]!.length;
    if (waiting[p] === 0) order[placed++] = p;
  }
  for (let next = 0; next < placed; next++) {
    if (next % STEP === 0) yield;
    for (const child of graph.children[order[next]!]!) if (--waiting[child]! === 0) order[placed++] = child;
  }
  return order.subarray(0, placed);
}

/**
 * A filter or a cap chooses among every job within max_depth, so the walk
 * may not be cut to the nearest first: more jobs within max_depth + 1 than
 * readLimit (4 × PROVENANCE_MAX_LINEAGE_NODES, as an as-of walk) are refused.
 */
export function selectionWalkTooLarge(rootId: string, direction: LineageDirection, readLimit: number): ProvenanceError {
  return new ProvenanceError(
    'RESOURCE_EXHAUSTED',
    `the ${direction.toLowerCase()} of job ${rootId} within max_depth + 1 are more than ${readLimit} jobs (4 × PROVENANCE_MAX_LINEAGE_NODES), too many to filter or cap; ask for a smaller max_depth`,
    'LINEAGE_FILTER_TOO_COSTLY',
  );
}

function collapseTooLarge(what: string): ProvenanceError {
  return new ProvenanceError(
    'RESOURCE_EXHAUSTED',
    `the filter's COLLAPSE answer ${what}; use PRUNE, a narrower filter or a smaller max_depth`,
    'LINEAGE_FILTER_TOO_COSTLY',
  );
}

/** The caps: which jobs and edges stay, and what each job's caps left out (into fanOut, by position). */
function* capped(
  answer: Graph,
  side: Uint8Array,
  inAnswer: Uint8Array,
  selection: LineageSelection,
  fanOut: Map<number, FanOut>,
): Generator<void, { kept: Uint8Array; keptParentsOf: number[][] }> {
  const count = inAnswer.length;
  const { maxChildrenPerNode: maxChildren, maxParentsPerNode: maxParents } = selection;
  // A walked edge is one the caps count: a child edge of the root or a descendant to a descendant, a parent edge of the root or an ancestor to an ancestor.
  const walkedChildren = (p: number) => (side[p] === ANCESTOR ? [] : answer.children[p]!.filter((c) => side[c] === DESCENDANT));
  const walkedParents = (p: number) => (side[p] === DESCENDANT ? [] : answer.parents[p]!.filter((q) => side[q] === ANCESTOR));
  const keptChildren = new Map<number, Set<number>>();
  const keptParents = new Map<number, Set<number>>();
  const kept = new Uint8Array(count);
  kept[0] = 1;
  const queue = [0];
  for (let head = 0; head < queue.length; head++) {
    if (head % STEP === 0) yield;
    const at = queue[head]!;
    const children = walkedChildren(at);
    const parents = walkedParents(at);
    const keepChildren = maxChildren > 0 ? children.slice(0, maxChildren) : children;
    const keepParents = maxParents > 0 ? parents.slice(0, maxParents) : parents;
    const omitted = { omittedChildren: children.length - keepChildren.length, omittedParents: parents.length - keepParents.length };
    if (omitted.omittedChildren > 0 || omitted.omittedParents > 0) fanOut.set(at, omitted);
    keptChildren.set(at, new Set(keepChildren));
    keptParents.set(at, new Set(keepParents));
    for (const next of [...keepChildren, ...keepParents]) {
      if (kept[next]) continue;
      kept[next] = 1;
      queue.push(next);
    }
  }
  // Each kept job's parents in the answer: along a kept walked edge, or along an edge no cap counts.
  const keptParentsOf: number[][] = new Array(count);
  for (let child = 0; child < count; child++) {
    if (child % STEP === 0) yield;
    if (!kept[child]) {
      keptParentsOf[child] = [];
      continue;
    }
    const ownKept = keptParents.get(child)!;
    keptParentsOf[child] = answer.parents[child]!.filter((parent) => {
      if (!kept[parent]) return false;
      const walkedFromParent = side[parent] !== ANCESTOR && side[child] === DESCENDANT;
      const walkedFromChild = side[child] !== DESCENDANT && side[parent] === ANCESTOR;
      if (walkedFromParent) return keptChildren.get(parent)!.has(child);
      if (walkedFromChild) return ownKept.has(parent);
      return true;
    });
  }
  return { kept, keptParentsOf };
}
