import { ProvenanceError } from './errors.js';
import type { LineageNode, LineageRow } from './lineage.js';

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
 * The most jobs a COLLAPSE filter may walk through, summed over the matching
 * jobs it walks from (each walks the non-matching jobs below it until the
 * next matching ones): about a second of work. A filter that matches few of
 * many jobs stays far below it; past it the call is RESOURCE_EXHAUSTED.
 */
export const MAX_COLLAPSE_VISITS = 20_000_000;

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

/** COLLAPSE's edges, as parent lists by child: a -> b when both match and a reaches b through non-matching jobs only. */
function* collapsedParents(graph: Graph, member: Uint8Array): Generator<void, number[][]> {
  const count = member.length;
  const parents: number[][] = Array.from({ length: count }, () => []);
  // visitedBy[p] = the member walking from it + 1, so that no walk clears the marks of the one before.
  const visitedBy = new Int32Array(count);
  let visits = 0;
  for (let from = 0; from < count; from++) {
    if (!member[from]) continue;
    const stack = [from];
    visitedBy[from] = from + 1;
    while (stack.length > 0) {
      const at = stack.pop()!;
      for (const child of graph.children[at]!) {
        if (visitedBy[child] === from + 1) continue;
        visitedBy[child] = from + 1;
        if (member[child]) parents[child]!.push(from);
        else stack.push(child);
        if (++visits % STEP === 0) yield;
        if (visits > MAX_COLLAPSE_VISITS) throw collapseTooLarge();
      }
    }
  }
  // Walks started in position order: each list is ascending already.
  return parents;
}

function collapseTooLarge(): ProvenanceError {
  return new ProvenanceError(
    'RESOURCE_EXHAUSTED',
    `the filter leaves more than ${MAX_COLLAPSE_VISITS} jobs to walk through in COLLAPSE mode; use PRUNE, a narrower filter or a smaller max_depth`,
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
