import type { CacheState, JobRecord, JobStatus } from './job.js';
import { utf8StringAt, utf8StringsIn, type Utf8Strings } from './utf8-strings.js';
import { isSelective, selectLineage, type FanOut, type LineageSelection } from './lineage-selection.js';
import { shownOrder, type ShownOrderViewer } from './shown-order.js';

/**
 * Lineage over parent arrays. The stores return the set of jobs within a
 * depth of the root (MongoDB: one $graphLookup, depths found here by
 * breadth-first search; SQLite: a breadth-first walk of its in-memory graph,
 * with depths); edges, order and truncation are computed here, so that both
 * stores give the same answers.
 */

export type LineageDirection = 'ANCESTORS' | 'DESCENDANTS';
export type LineageRelation = 'ROOT' | 'ANCESTOR' | 'DESCENDANT';
export type TruncationReason = 'MAX_DEPTH' | 'MAX_NODES' | 'FAN_OUT';

/** What a store returns for one job of a lineage, depending on the projection asked for; R: JobView once seen by a caller (job-view.ts). */
export interface LineageRow<R extends JobRecord = JobRecord> {
  jobId: string;
  /** As stored: answers show the lineage's edges and the (viewed) records, never this. */
  parentIds: string[];
  /** Who may read the job: its tenant and extra reader subjects (every projection). */
  tenant: string;
  readers: string[];
  type?: string;
  status?: JobStatus;
  cacheState?: CacheState;
  record?: R;
  /**
   * The job's shortest distance from the root, when the store computed it
   * (SQLite's in-memory walk does; a store gives it for every row or none).
   * Without it, buildLineage finds depths by breadth-first search.
   */
  depth?: number;
}

export interface LineageNode<R extends JobRecord = JobRecord> {
  row: LineageRow<R>;
  depth: number;
  relation: LineageRelation;
  /** The caller may not read this job: row holds only its opaque id. */
  restricted?: boolean;
  /** What the fan-out caps left out of this job's children or parents (lineage-selection.ts); absent when nothing. */
  fanOut?: FanOut;
}

/** A node shown under its placeholder: only its depth, relation and opaque id. */
export function restrictedNode<R extends JobRecord>(node: Pick<LineageNode, 'depth' | 'relation' | 'fanOut'>, placeholder: string): LineageNode<R> {
  const restricted: LineageNode<R> = { depth: node.depth, relation: node.relation, restricted: true, row: { jobId: placeholder, parentIds: [], tenant: '', readers: [] } };
  if (node.fanOut) restricted.fanOut = node.fanOut;
  return restricted;
}

export interface LineageEdge {
  parentJobId: string;
  childJobId: string;
}

export interface Lineage<R extends JobRecord = JobRecord> {
  root: LineageRow<R>;
  /** Nearest first: by depth, then ancestors before descendants, then job id (or as its caller is shown them: shown-order.ts). */
  nodes: LineageNode<R>[];
  /**
   * Every parent-to-child edge among the root and the nodes, flattened:
   * edge k goes from index edgeIndexes[2k] to index edgeIndexes[2k + 1] of
   * [root, ...nodes]. Indexes rather than ids, so that the compact view is
   * made without the ids' pairs (lineageEdges gives those); an edge follows
   * its nodes through the placeholders they become.
   */
  edgeIndexes: number[];
  ancestorDepth: number;
  descendantDepth: number;
  truncation: TruncationReason[];
  /** How many nodes are restricted placeholders. */
  hiddenNodeCount: number;
  /** What the fan-out caps left out of the root's children or parents; absent when nothing. */
  rootFanOut?: FanOut;
}

/**
 * A lineage's nodes, given a range at a time: an array of them, or
 * NodesOfColumns, which makes each range's objects from the columns as it
 * is asked for.
 */
export interface LineageNodes<R extends JobRecord = JobRecord> {
  readonly length: number;
  slice(from: number, to: number): Array<LineageNode<R>>;
}

/** A lineage whose nodes are given a range at a time (LineageNodes): a Lineage is one. */
export type LineageInParts<R extends JobRecord = JobRecord> = Omit<Lineage<R>, 'nodes' | 'edgeIndexes'> & {
  nodes: LineageNodes<R>;
  edgeIndexes: ArrayLike<number>;
};

/**
 * A lineage whose nodes' records are read a range at a time, as its answer
 * is written (readRecords), rather than all before it: a whole ancestry's
 * records, held at once, filled the serving thread's heap, and its
 * collections held the calls beside it (docs/decisions.md, "Records read
 * as the answer is written"). Its nodes stay in the columns the store built
 * them in, made into objects a range at a time, for the same reason. The
 * root carries its record; the nodes carry none until readRecords gives
 * them theirs. Columns come without fan-out caps.
 */
export interface LineageReadingRecords<R extends JobRecord = JobRecord> {
  lineage: Omit<Lineage<R>, 'nodes' | 'edgeIndexes' | 'rootFanOut'> & { nodes: NodesOfColumns<R>; edgeIndexes: Int32Array<ArrayBuffer> };
  /** Nodes from to to - 1 with their records. */
  readRecords(from: number, to: number): Promise<RecordsRead<R>>;
}

export interface RecordsRead<R extends JobRecord = JobRecord> {
  nodes: Array<LineageNode<R>>;
  /** The positions in nodes of those that came back restricted where the walk had them readable: their grants changed since, and the answer counts them as hidden. */
  restrictedSinceWalk: number[];
}

/** The positions of the nodes read restricted that were not when asked for (RecordsRead.restrictedSinceWalk). */
export function restrictedSinceWalk(asked: ReadonlyArray<LineageNode>, read: ReadonlyArray<LineageNode>): number[] {
  const positions: number[] = [];
  for (let k = 0; k < read.length; k++) if (read[k]!.restricted && !asked[k]!.restricted) positions.push(k);
  return positions;
}

/**
 * A lineage's nodes in columns rather than objects (ProvenanceStore.builtLineage):
 * node i of Lineage.nodes has id i of jobIds, depths[i] and relations[i].
 * The compact view is made and sent from them without an object or a
 * string per node (docs/decisions.md, "Lineage built on the graph").
 */
export interface LineageColumns {
  jobIds: Utf8Strings;
  depths: Int32Array<ArrayBuffer>;
  /** RELATION_CODES: 0 ancestor, 1 descendant. */
  relations: Uint8Array<ArrayBuffer>;
  /** Who may read node i: accesses[accessIndexes[i]] (few, as tenants and reader lists are). */
  accessIndexes: Int32Array<ArrayBuffer>;
  accesses: Array<Pick<LineageRow, 'tenant' | 'readers'>>;
  /** Once seen by a caller (JobViewer.columnsInSteps): the nodes it may not read, ascending, and the placeholder each is shown under. */
  restricted?: number[];
  placeholders?: string[];
}

/** LineageColumns.relations' codes, by relation. */
export const RELATION_CODES = { ANCESTOR: 0, DESCENDANT: 1 } as const;
const CODED_RELATIONS: LineageRelation[] = ['ANCESTOR', 'DESCENDANT'];

/** A lineage whose nodes are columns: one without filter or fan-out caps, its rows in the IDS projection. */
export type ColumnarLineage<R extends JobRecord = JobRecord> = Omit<Lineage<R>, 'nodes' | 'rootFanOut' | 'edgeIndexes'> & {
  columns: LineageColumns;
  edgeIndexes: Int32Array<ArrayBuffer>;
};

/** A node's row from columns holds no parents: the lineage's edges say them. */
const NO_PARENT_IDS: readonly string[] = Object.freeze([]);

/**
 * A lineage's nodes made from its columns a range at a time (slice),
 * restricted ones as JobViewer makes their placeholders; a whole ancestry's
 * nodes as objects held for a call were most of the serving thread's heap
 * at 1,000,000 jobs, and their collections held the calls beside it.
 */
export class NodesOfColumns<R extends JobRecord = JobRecord> implements LineageNodes<R> {
  private readonly placeholderOf: ReadonlyMap<number, string>;

  constructor(private readonly columns: LineageColumns) {
    const { restricted = [], placeholders = [] } = columns;
    this.placeholderOf = new Map(restricted.map((node, k) => [node, placeholders[k]!]));
  }

  get length(): number {
    return this.columns.depths.length;
  }

  slice(from: number, to: number): Array<LineageNode<R>> {
    const end = Math.min(to, this.length);
    if (end <= from) return [];
    const { depths, relations, accessIndexes, accesses } = this.columns;
    const jobIds = utf8StringsIn(this.columns.jobIds, from, end);
    const nodes = new Array<LineageNode<R>>(end - from);
    for (let i = from; i < end; i++) {
      const [depth, relation, placeholder] = [depths[i]!, CODED_RELATIONS[relations[i]!]!, this.placeholderOf.get(i)];
      if (placeholder !== undefined) nodes[i - from] = restrictedNode({ depth, relation }, placeholder);
      else nodes[i - from] = { depth, relation, row: { jobId: jobIds[i - from]!, parentIds: NO_PARENT_IDS as string[], ...accesses[accessIndexes[i]!]! } };
    }
    return nodes;
  }

  /** Node i's id as the lineage shows it: its placeholder when the caller may not read it. */
  shownId(i: number): string {
    return this.placeholderOf.get(i) ?? utf8StringAt(this.columns.jobIds, i);
  }

  /** Node i's job id, whoever may read it. */
  jobId(i: number): string {
    return utf8StringAt(this.columns.jobIds, i);
  }

  /** Who may read node i's job, as the walk found. */
  access(i: number): Pick<LineageRow, 'tenant' | 'readers'> {
    return this.columns.accesses[this.columns.accessIndexes[i]!]!;
  }
}

/** The lineage with its nodes as objects, LINEAGE_STEP_SIZE nodes per step (yield); restricted ones as JobViewer makes their placeholders. */
export function* lineageOfColumns<R extends JobRecord>(lineage: ColumnarLineage<R>): Generator<void, Lineage<R>> {
  const { columns, edgeIndexes, ...rest } = lineage;
  const ofColumns = new NodesOfColumns<R>(columns);
  // In steps: a whole ancestry's 714,556 nodes at once held the thread for tenths of a second (1,000,000-job graph).
  const nodes: Array<LineageNode<R>> = [];
  for (let from = 0; from < ofColumns.length; from += LINEAGE_STEP_SIZE) {
    for (const node of ofColumns.slice(from, from + LINEAGE_STEP_SIZE)) nodes.push(node);
    yield;
  }
  // A loop: Array.from takes several times as long.
  const edges = new Array<number>(edgeIndexes.length);
  for (let k = 0; k < edges.length; k++) edges[k] = edgeIndexes[k]!;
  return { ...rest, nodes, edgeIndexes: edges };
}

/**
 * The parents in a lineage of each of its jobs, by index in [root, ...nodes]:
 * job i's are parents[starts[i]] to parents[starts[i + 1] - 1]. Typed
 * arrays, made from the edges in steps (yield), without an object per job.
 */
export interface ParentIndexes {
  starts: Int32Array<ArrayBuffer>;
  parents: Int32Array<ArrayBuffer>;
}

/** Edges handled between two pauses of parentIndexesInSteps: a typed-array write each. */
const EDGES_PER_STEP = 16_384;

export function* parentIndexesInSteps(lineage: Pick<LineageInParts, 'nodes' | 'edgeIndexes'>): Generator<void, ParentIndexes> {
  const { edgeIndexes } = lineage;
  const edgeCount = edgeIndexes.length / 2;
  const starts = new Int32Array(lineage.nodes.length + 2);
  // Counted at i + 1, summed to starts, then filled from each job's start (next, advanced as it fills).
  for (let k = 0; k < edgeCount; k++) {
    if (k > 0 && k % EDGES_PER_STEP === 0) yield;
    starts[edgeIndexes[2 * k + 1]! + 1]!++;
  }
  for (let i = 1; i < starts.length; i++) starts[i]! += starts[i - 1]!;
  const next = starts.slice(0, -1);
  const parents = new Int32Array(edgeCount);
  for (let k = 0; k < edgeCount; k++) {
    if (k > 0 && k % EDGES_PER_STEP === 0) yield;
    parents[next[edgeIndexes[2 * k + 1]!]!++] = edgeIndexes[2 * k]!;
  }
  return { starts, parents };
}

export interface LineageLimits {
  maxDepth: number;
  maxNodes: number;
}

/**
 * Rows or edges handled between two pauses of buildLineageInSteps (and of
 * the views and access steps): well under a millisecond, so that the caller,
 * which lets the event loop turn at the pauses that come once its time
 * budget is spent (service/next-turn.ts, inTurns), never overruns it by
 * much. 10,000 held the event loop 40 to 75 ms of CPU in edgesAmong on the
 * loaded 2-core machine (a whole ancestry of 69,000 jobs with records).
 */
export const LINEAGE_STEP_SIZE = 500;

/**
 * Builds the answer from the rows the store found. The rows of each direction
 * must cover every job within maxDepth + 1 edges of the root: the extra level
 * only tells whether the depth limit cut anything.
 */
export function buildLineage(
  root: LineageRow,
  found: { ancestors?: readonly LineageRow[]; descendants?: readonly LineageRow[] },
  limits: LineageLimits,
  selection?: LineageSelection,
  viewer?: ShownOrderViewer,
): Lineage {
  const steps = buildLineageInSteps(root, found, limits, selection, viewer);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * buildLineage, pausing (yield) after each LINEAGE_STEP_SIZE rows or edges,
 * so that the caller can let other work run between steps on a large
 * lineage; it returns the lineage. A selection (filter, fan-out caps)
 * applies to the jobs within maxDepth, before maxNodes; the rows must then
 * cover every job within maxDepth + 1 (no LineageQuery.nearest cut). With a
 * viewer, the nodes of each depth are ordered, and cut, as it is shown them
 * (shown-order.ts); the store's nearest cut must then be made for it too.
 */
export function* buildLineageInSteps(
  root: LineageRow,
  found: { ancestors?: readonly LineageRow[]; descendants?: readonly LineageRow[] },
  limits: LineageLimits,
  selection?: LineageSelection,
  viewer?: ShownOrderViewer,
): Generator<void, Lineage> {
  const truncation = new Set<TruncationReason>();
  const ranked: LineageNode[] = [];
  if (found.ancestors) {
    const depths = hasDepths(found.ancestors) ? undefined : ancestorDepths(root, found.ancestors);
    yield* collect(found.ancestors, depths, 'ANCESTOR', limits.maxDepth, ranked, truncation);
  }
  if (found.descendants) {
    const depths = hasDepths(found.descendants) ? undefined : descendantDepths(root, found.descendants);
    // A job is both an ancestor and a descendant only in a cycle (never stored now, but older data may hold one): it is shown once, as an ancestor.
    const seen = found.ancestors ? new Set(ranked.map((n) => n.row.jobId)) : undefined;
    const fresh = seen ? found.descendants.filter((row) => !seen.has(row.jobId)) : found.descendants;
    yield* collect(fresh, depths, 'DESCENDANT', limits.maxDepth, ranked, truncation);
  }
  yield;
  const sorted = yield* sortInSteps(ranked, viewer ? nearestFirstAs(viewer) : nearestFirst);
  yield;
  if (isSelective(selection)) return yield* selectedLineage(root, sorted, limits, selection, truncation);
  const nodes = sorted.length > limits.maxNodes ? sorted.slice(0, limits.maxNodes) : sorted;
  if (nodes.length < sorted.length) truncation.add('MAX_NODES');

  const edgeIndexes = yield* edgesAmong(root, nodes);
  return { root, nodes, edgeIndexes, ...farthestDepths(nodes), truncation: [...truncation].sort(), hiddenNodeCount: 0 };
}

/**
 * The items in compare's order, in steps: runs of LINEAGE_STEP_SIZE sorted
 * a run a step, then merged pairwise, pausing (yield) after every
 * LINEAGE_STEP_SIZE items moved. Sorting a 714,556-node ancestry in one
 * call held the thread 0.6 s on the loaded 2-core machine (1,000,000-job
 * graph). For a total order (as nearestFirst is), the result is the one
 * Array.prototype.sort gives; items itself may be reordered.
 */
export function* sortInSteps<T>(items: T[], compare: (a: T, b: T) => number): Generator<void, T[]> {
  const size = LINEAGE_STEP_SIZE;
  if (items.length <= size) return items.sort(compare);
  for (let from = 0; from < items.length; from += size) {
    const run = items.slice(from, from + size).sort(compare);
    for (let i = 0; i < run.length; i++) items[from + i] = run[i]!;
    yield;
  }
  let source = items;
  let target = new Array<T>(items.length);
  let moved = 0;
  for (let width = size; width < items.length; width *= 2) {
    for (let left = 0; left < items.length; left += 2 * width) {
      const middle = Math.min(left + width, items.length);
      const end = Math.min(left + 2 * width, items.length);
      let [i, j] = [left, middle];
      for (let k = left; k < end; k++) {
        target[k] = j >= end || (i < middle && compare(source[i]!, source[j]!) <= 0) ? source[i++]! : source[j++]!;
        if (++moved % size === 0) yield;
      }
    }
    [source, target] = [target, source];
  }
  return source;
}

/** The largest depth among the ancestors and among the descendants (0 when there are none). */
function farthestDepths(nodes: readonly LineageNode[]): { ancestorDepth: number; descendantDepth: number } {
  let ancestorDepth = 0;
  let descendantDepth = 0;
  for (const node of nodes) {
    if (node.relation === 'ANCESTOR') ancestorDepth = Math.max(ancestorDepth, node.depth);
    else descendantDepth = Math.max(descendantDepth, node.depth);
  }
  return { ancestorDepth, descendantDepth };
}

/** The lineage of the selected jobs among ranked (nearest first), cut at maxNodes, with the selection's edges among those left. */
function* selectedLineage(
  root: LineageRow,
  ranked: readonly LineageNode[],
  limits: LineageLimits,
  selection: LineageSelection,
  truncation: Set<TruncationReason>,
): Generator<void, Lineage> {
  const selected = yield* selectLineage(root, ranked, selection);
  if (selected.fanOut.size > 0) truncation.add('FAN_OUT');
  const shown = Math.min(selected.nodes.length, limits.maxNodes);
  if (shown < selected.nodes.length) truncation.add('MAX_NODES');
  const nodes = selected.nodes.slice(0, shown);
  for (const [index, fanOut] of selected.fanOut) if (index > 0 && index <= shown) nodes[index - 1] = { ...nodes[index - 1]!, fanOut };
  const edgeIndexes: number[] = [];
  for (let k = 0; k < selected.edgeIndexes.length; k += 2) {
    const [parent, child] = [selected.edgeIndexes[k]!, selected.edgeIndexes[k + 1]!];
    if (parent <= shown && child <= shown) edgeIndexes.push(parent, child);
  }
  const rootFanOut = selected.fanOut.get(0);
  return {
    root,
    nodes,
    edgeIndexes,
    ...farthestDepths(nodes),
    truncation: [...truncation].sort(),
    hiddenNodeCount: 0,
    ...(rootFanOut ? { rootFanOut } : {}),
  };
}

function hasDepths(rows: readonly LineageRow[]): boolean {
  return rows.length > 0 && rows[0]!.depth !== undefined;
}

/** Turns rows into nodes at their depth (the store's, or depths'), leaving out those not reachable and those beyond maxDepth. */
function* collect(
  rows: readonly LineageRow[],
  depths: ReadonlyMap<string, number> | undefined,
  relation: LineageRelation,
  maxDepth: number,
  into: LineageNode[],
  truncation: Set<TruncationReason>,
): Generator<void, void> {
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % LINEAGE_STEP_SIZE === 0) yield;
    const row = rows[i]!;
    const depth = depths ? depths.get(row.jobId) : row.depth;
    if (depth === undefined) continue;
    if (depth > maxDepth) truncation.add('MAX_DEPTH');
    else into.push({ row, depth, relation });
  }
}

/** Shortest depth of every row reachable from the root through parent arrays. */
export function ancestorDepths(root: LineageRow, rows: readonly LineageRow[]): Map<string, number> {
  const byId = new Map(rows.map((row) => [row.jobId, row]));
  return bfs(root.jobId, (id) => (id === root.jobId ? root.parentIds : (byId.get(id)?.parentIds ?? [])).filter((p) => byId.has(p)));
}

/**
 * The descendants of rootId nearest first (by depth, then job id), pausing
 * (yield) as sortInSteps does: at the store's depths when it gave them,
 * else at those a breadth-first search finds; a row that does not reach
 * rootId is left out.
 */
export function* descendantsNearestFirst(rootId: string, rows: readonly LineageRow[], viewer?: ShownOrderViewer): Generator<void, LineageRow[]> {
  const depths = hasDepths(rows) ? undefined : descendantDepths({ jobId: rootId, parentIds: [], tenant: '', readers: [] }, rows);
  const ranked: LineageNode[] = [];
  for (const row of rows) {
    const depth = row.depth ?? depths!.get(row.jobId);
    if (depth !== undefined) ranked.push({ row, depth, relation: 'DESCENDANT' });
  }
  yield;
  const sorted = yield* sortInSteps(ranked, viewer ? nearestFirstAs(viewer) : nearestFirst);
  return sorted.map((node) => node.row);
}

/** Shortest depth of every row that reaches the root through parent arrays. */
export function descendantDepths(root: LineageRow, rows: readonly LineageRow[]): Map<string, number> {
  const children = childrenByParent(rows);
  return bfs(root.jobId, (id) => children.get(id) ?? []);
}

function childrenByParent(rows: readonly LineageRow[]): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const row of rows) {
    for (const parent of row.parentIds) {
      let list = children.get(parent);
      if (!list) children.set(parent, (list = []));
      list.push(row.jobId);
    }
  }
  return children;
}

function bfs(start: string, next: (id: string) => readonly string[]): Map<string, number> {
  const depths = new Map<string, number>();
  let frontier = [start];
  const visited = new Set(frontier);
  for (let depth = 1; frontier.length > 0; depth++) {
    const following: string[] = [];
    for (const id of frontier) {
      for (const neighbour of next(id)) {
        if (visited.has(neighbour)) continue;
        visited.add(neighbour);
        depths.set(neighbour, depth);
        following.push(neighbour);
      }
    }
    frontier = following;
  }
  return depths;
}

/** Nearest first: by depth, then ancestors before descendants, then job id (by UTF-16 code units, as compareCodeUnits in hashing.ts). */
function nearestFirst(a: LineageNode, b: LineageNode): number {
  if (a.depth !== b.depth) return a.depth - b.depth;
  if (a.relation !== b.relation) return a.relation === 'ANCESTOR' ? -1 : 1;
  return a.row.jobId < b.row.jobId ? -1 : a.row.jobId > b.row.jobId ? 1 : 0;
}

/** nearestFirst, but within a depth and relation as viewer is shown the jobs (shown-order.ts): those it may read by job id, then the others by placeholder. */
function nearestFirstAs(viewer: ShownOrderViewer): (a: LineageNode, b: LineageNode) => number {
  const within = shownOrder<LineageNode>(viewer, (node) => node.row.jobId, (node) => node.row);
  return (a, b) => {
    if (a.depth !== b.depth) return a.depth - b.depth;
    if (a.relation !== b.relation) return a.relation === 'ANCESTOR' ? -1 : 1;
    return within(a, b);
  };
}

/** The edges into each of [root, ...nodes] in turn, each child's in the order of its parent array, as index pairs. */
function* edgesAmong(root: LineageRow, nodes: readonly LineageNode[]): Generator<void, number[]> {
  const indexOf = new Map<string, number>([[root.jobId, 0]]);
  for (let i = 0; i < nodes.length; i++) {
    if (i > 0 && i % LINEAGE_STEP_SIZE === 0) yield;
    indexOf.set(nodes[i]!.row.jobId, i + 1);
  }
  const edges: number[] = [];
  const addEdgesOf = (child: LineageRow, childIndex: number) => {
    for (const parent of child.parentIds) {
      const parentIndex = indexOf.get(parent);
      if (parentIndex !== undefined) edges.push(parentIndex, childIndex);
    }
  };
  addEdgesOf(root, 0);
  for (let i = 0; i < nodes.length; i++) {
    if (i > 0 && i % LINEAGE_STEP_SIZE === 0) yield;
    addEdgesOf(nodes[i]!.row, i + 1);
  }
  return edges;
}

/** The lineage's edges (edge from to edge end - 1, when given) as pairs of the ids its root and nodes show (placeholders for restricted nodes). */
export function lineageEdges(lineage: Pick<Lineage, 'root' | 'nodes' | 'edgeIndexes'>, from = 0, end = Infinity): LineageEdge[] {
  return edgesNamed(lineage.edgeIndexes, shownIds(lineage), from, end);
}

/** The id the lineage shows for each of its jobs, by index in [root, ...nodes] (a restricted node's row holds its placeholder). */
export function shownIds(lineage: Pick<Lineage, 'root' | 'nodes'>): (index: number) => string {
  return (index) => (index === 0 ? lineage.root.jobId : lineage.nodes[index - 1]!.row.jobId);
}

/** Edges from to end - 1 of edgeIndexes, each end named by idAt(its index in [root, ...nodes]). */
export function edgesNamed(edgeIndexes: ArrayLike<number>, idAt: (index: number) => string, from = 0, end = Infinity): LineageEdge[] {
  const first = Math.min(from, edgeIndexes.length / 2);
  const edges: LineageEdge[] = new Array(Math.min(end, edgeIndexes.length / 2) - first);
  for (let k = 0; k < edges.length; k++) edges[k] = { parentJobId: idAt(edgeIndexes[2 * (first + k)]!), childJobId: idAt(edgeIndexes[2 * (first + k) + 1]!) };
  return edges;
}

/**
 * When a job named jobId takes proposedParents as its parents, returns a
 * cycle that would close (jobId, ..., parent, jobId), or undefined.
 * descendants must be every job that reaches jobId through parent arrays.
 */
export function findCycle(jobId: string, proposedParents: readonly string[], descendants: readonly LineageRow[]): string[] | undefined {
  if (proposedParents.includes(jobId)) return [jobId, jobId];
  const children = childrenByParent(descendants);
  const cameFrom = new Map<string, string>();
  const targets = new Set(proposedParents);
  let frontier = [jobId];
  while (frontier.length > 0) {
    const following: string[] = [];
    for (const id of frontier) {
      for (const child of children.get(id) ?? []) {
        if (cameFrom.has(child) || child === jobId) continue;
        cameFrom.set(child, id);
        if (targets.has(child)) return pathTo(child, jobId, cameFrom);
        following.push(child);
      }
    }
    frontier = following;
  }
  return undefined;
}

/** A record of the lineage graph that is not stored yet: what descendantsWithPending needs of it. */
export type UnstoredRecord = Pick<LineageRow, 'jobId' | 'parentIds' | 'tenant' | 'readers'>;

/**
 * Every job that reaches rootId through parent arrays, among the stored jobs
 * (storedDescendants gives those of one id, root excluded) and records about
 * to be stored with them: the descendants findCycle needs for a record of a
 * batch. Each job once. Breadth first over the records' parents, indexed
 * once; the stored descendants of a record are asked for only when
 * mayHaveStoredChildren says a stored job may name it (a new id no stored
 * job names has none): a batch of 400 records each naming the next, children
 * first, took 4.5 s in the loops and walks of a search per record.
 */
export async function descendantsWithPending(
  rootId: string,
  pending: readonly UnstoredRecord[],
  storedDescendants: (jobId: string) => Promise<readonly LineageRow[]>,
  mayHaveStoredChildren: (jobId: string) => boolean = () => true,
): Promise<LineageRow[]> {
  const pendingChildren = new Map<string, UnstoredRecord[]>();
  for (const record of pending) {
    for (const parentId of record.parentIds) {
      let children = pendingChildren.get(parentId);
      if (!children) pendingChildren.set(parentId, (children = []));
      children.push(record);
    }
  }
  const rows = new Map<string, LineageRow>();
  const queue = [rootId];
  const reach = (row: LineageRow): boolean => {
    if (row.jobId === rootId || rows.has(row.jobId)) return false;
    rows.set(row.jobId, row);
    queue.push(row.jobId);
    return true;
  };
  for (const row of await storedDescendants(rootId)) reach(row);
  for (let next = 0; next < queue.length; next++) {
    for (const { jobId, parentIds, tenant, readers } of pendingChildren.get(queue[next]!) ?? []) {
      if (!reach({ jobId, parentIds, tenant, readers }) || !mayHaveStoredChildren(jobId)) continue;
      for (const row of await storedDescendants(jobId)) reach(row);
    }
  }
  return [...rows.values()];
}

function pathTo(end: string, start: string, cameFrom: ReadonlyMap<string, string>): string[] {
  const path = [end];
  for (let id = end; id !== start; ) {
    id = cameFrom.get(id)!;
    path.unshift(id);
  }
  path.push(start);
  return path;
}
