import type Database from 'better-sqlite3';
import type { LineageDirection, LineageRow, TruncationReason } from '../../domain/lineage.js';
import type { BuiltLineageQuery } from '../../domain/ports/provenance-store.js';
import type { PackedBuiltLineage } from './built-lineage.js';
import type { LineageStepRow } from '../../domain/lineage-stream.js';
import { grown } from '../../domain/utf8-strings.js';
import { compareCodeUnits } from '../../domain/hashing.js';
import { JobViewer } from '../../domain/job-view.js';
import { placeholderOrderKey } from '../../domain/access.js';
import type { ShownTo } from '../../domain/shown-order.js';
import { InternedIds } from './interned-ids.js';
import { orderedRows, type LevelOrder, type LineageStepper, type LineageWalker } from './lineage-rows.js';

type JobColumns = [jobId: string, parentIds: string, tenant: string, readers: string];

/** No row: the id is known only as some job's parent. */
const NO_ROW = -1;
/** The rows one step of a background load reads (a few milliseconds of work). */
const LOAD_STEP_ROWS = 2_000;

/**
 * The lineage graph of the jobs table, held in memory in typed arrays: each
 * job's parents, tenant and readers, and each job's children. A walk over it
 * costs a fraction of a recursive query over the table (one B-tree search
 * per job reached, and a temporary B-tree to remove repeats).
 *
 * Compact (docs/decisions.md, "SQLite lineage graph"): every id is interned
 * once to an index, as bytes outside the heap (InternedIds); a job's
 * parents are a run of indexes in one Int32Array pool, its children a run
 * in a second pool (compressed sparse rows); tenants and reader lists,
 * which most jobs share, are interned too. A job costs about 70 bytes of
 * typed arrays and its id's bytes.
 *
 * Changes append: a job whose parents change gets a new run at the end of
 * the parent pool (the old run becomes garbage), and its new parents list
 * it among extra children; a child run may therefore name a job that no
 * longer has that parent, which a walk checks against the job's parents
 * (the truth). Once garbage and extras reach a quarter of the pools, both
 * pools are rebuilt from the parents, in memory.
 *
 * It stays equal to the table, whichever process or connection writes:
 * triggers number every change to a job's parents, tenant or readers in
 * lineage_changes (schema.ts), and refresh() applies the changes numbered
 * after the last one applied, or reloads everything when the table has
 * already dropped some of them (it keeps the last LINEAGE_CHANGES_KEPT).
 * Callers refresh inside the read transaction of the query they answer, so
 * the graph and the rows they read next are of one snapshot.
 */
export class LineageGraph implements LineageWalker, LineageStepper {
  private readonly ids = new InternedIds();
  /** By index: where the job's parents start in parentPool, or NO_ROW. */
  private parentStart = new Int32Array(1024);
  private parentCount = new Int32Array(1024);
  private tenantOf = new Int32Array(1024);
  private readersOf = new Int32Array(1024);
  private parentPool = new Int32Array(4096);
  private parentPoolLength = 0;
  /** Parent pool entries no job uses any more. */
  private parentGarbage = 0;
  /** Children as of the last compaction: indexes childStart[i] to childStart[i + 1] of childPool (indexes past compactedCount have none there). */
  private childStart = new Int32Array(1);
  private childPool = new Int32Array(0);
  private compactedCount = 0;
  /** Children added since the last compaction, by parent index. */
  private readonly extraChildren = new Map<number, number[]>();
  private extraChildCount = 0;
  private readonly tenants = new Interned<string>();
  private readonly readerLists = new Interned<string[]>();
  /**
   * Each id's place in code-unit order among the first rankedCount ids, as of
   * the last compaction, and the index at each place: a built lineage sorts
   * a level as the ints of its places, several times faster than by the
   * strings, and by the strings only a level with an id interned since.
   */
  private rank = new Int32Array(0);
  private byRank = new Int32Array(0);
  private rankedCount = 0;
  /**
   * Each id's placeholderOrderKey + 1 under placeholderKey (0: not made
   * yet): where a job a caller may not read goes among the placeholders of
   * its depth, made once per job rather than once per answer. A keyed hash
   * per hidden job of each answer held the graph's thread for a quarter of a
   * second on a job with 100,000 hidden children, and every walk queued
   * behind it (a probe, 2026-12-07).
   */
  private placeholderKeys: Float64Array<ArrayBuffer> = new Float64Array(1024);
  private placeholderKey: Uint8Array | undefined;
  /**
   * visited[i] === a stamp (nextStamp) when the walk or the answer that
   * took it has reached or marked index i; positions[i] is then that
   * answer's place for i (edgesAmong). Stamped instead of cleared, so that
   * an answer costs its own size, not the graph's: a fresh array per answer
   * (400 KB at 100,000 jobs, 4 MB at 1,000,000) was most of a small
   * lineage's time on the graph's thread.
   */
  private visited = new Int32Array(1024);
  private positions = new Int32Array(1024);
  private stamp = 0;
  private appliedThrough: number | undefined;
  private readonly statements: ReturnType<typeof prepareStatements>;

  constructor(db: Database.Database) {
    this.statements = prepareStatements(db);
  }

  /** Whether the graph holds a whole load (refresh() will only apply changes). */
  get loaded(): boolean {
    return this.appliedThrough !== undefined;
  }

  /** Brings the graph up to the table's latest change. */
  refresh(): void {
    const { latestChange, oldestChange, changedJobIds, jobsByIds } = this.statements;
    const latest = latestChange.get() ?? 0;
    if (latest === this.appliedThrough) return;
    const oldest = oldestChange.get() ?? 0;
    if (this.appliedThrough === undefined || oldest > this.appliedThrough + 1) {
      for (const _step of this.load(this.statements.db)) {
        // All at once: the caller chose to wait.
      }
      return;
    }
    const changed = changedJobIds.all(this.appliedThrough);
    for (const jobId of changed) {
      const index = this.ids.find(jobId);
      if (index !== undefined) this.remove(index);
    }
    for (const columns of jobsByIds.all(JSON.stringify(changed))) this.add(columns);
    this.appliedThrough = latest;
    this.compactIfWasteful();
  }

  /**
   * Loads the whole table from db, LOAD_STEP_ROWS rows per step; it yields
   * after each step, the number of rows read so far. The caller holds one
   * read transaction on db across all steps, so that the graph is one
   * snapshot, of the latest change the first step reads.
   */
  *load(db: Database.Database): Generator<number, void, void> {
    const latest = db.prepare<[], number | null>('SELECT max(seq) FROM lineage_changes').pluck().get() ?? 0;
    const page = db.prepare<[number, number], [rowid: number, ...JobColumns]>(
      'SELECT rowid, job_id, parent_ids, tenant, readers FROM jobs WHERE rowid > ? ORDER BY rowid LIMIT ?',
    ).raw();
    this.clear();
    let read = 0;
    for (let after = 0; ; ) {
      const rows = page.all(after, LOAD_STEP_ROWS);
      for (const [rowid, ...columns] of rows) {
        // The children of a whole load come from compact(), at the end.
        this.add(columns, false);
        after = rowid;
      }
      read += rows.length;
      if (rows.length < LOAD_STEP_ROWS) break;
      yield read;
    }
    this.compact();
    this.appliedThrough = latest;
  }

  /**
   * Every job within maxDepth edges of the root in that direction, the root
   * excluded, with its shortest depth, in LineageWalker's order and cut.
   * Parents with no row are passed through but not returned (they have no
   * parents of their own, so nothing lies behind them).
   */
  walk(rootId: string, direction: LineageDirection, maxDepth: number, nearest = Infinity, shownTo?: ShownTo): LineageRow[] {
    const rootIndex = this.ids.find(rootId);
    if (rootIndex === undefined) return [];
    return orderedRows(this.levels(rootIndex, direction, maxDepth), this.levelOrder(shownTo), nearest, (index, depth) => this.row(index, depth));
  }

  /**
   * ProvenanceStore.builtLineage on the graph: the walks of walk(), one level
   * past maxDepth, ordered, cut and joined by edges as buildLineage does, in
   * indexes, packed (built-lineage.ts). Only the levels up to the cut are
   * sorted.
   */
  built({ rootId, directions, maxDepth, maxNodes, shownTo }: BuiltLineageQuery): PackedBuiltLineage {
    const rootIndex = this.ids.find(rootId);
    const walked = (direction: LineageDirection) => (rootIndex !== undefined && directions.includes(direction) ? this.levels(rootIndex, direction, maxDepth + 1) : []);
    const ancestors = walked('ANCESTORS');
    let descendants = walked('DESCENDANTS');
    if (ancestors.length > 0 && descendants.length > 0) {
      // A job is both an ancestor and a descendant only in a cycle (older data may hold one): it is shown once, as an ancestor.
      const { visited } = this;
      const ancestor = this.nextStamp();
      for (const level of ancestors.slice(0, maxDepth)) for (const index of level) visited[index] = ancestor;
      descendants = descendants.map((level) => level.filter((index) => visited[index] !== ancestor));
    }
    const truncation = new Set<TruncationReason>();
    if ((ancestors[maxDepth]?.length ?? 0) > 0 || (descendants[maxDepth]?.length ?? 0) > 0) truncation.add('MAX_DEPTH');
    let total = 0;
    for (const levels of [ancestors, descendants]) for (const level of levels.slice(0, maxDepth)) total += level.length;
    const kept = Math.min(total, maxNodes);
    if (kept < total) truncation.add('MAX_NODES');

    // Nearest first: by depth, then ancestors before descendants, then as the caller is shown the jobs (job id, or placeholder).
    const { sort } = this.levelOrder(shownTo);
    const order = new Int32Array(kept);
    const depths = new Int32Array(kept);
    const relations = new Uint8Array(kept);
    const accessIndexes = new Int32Array(kept);
    // Who may read each node: its tenant and reader list (by their indexes in the graph's), numbered in order of first use.
    const accesses = new Map<number, number>();
    const readerListCount = this.readerLists.values.length;
    const farthest = [0, 0];
    let count = 0;
    for (let d = 0; d < maxDepth && count < kept; d++) {
      // Relation codes as RELATION_CODES: 0 ancestors, 1 descendants.
      for (const [relation, levels] of [ancestors, descendants].entries()) {
        const level = sort(levels[d] ?? []);
        for (let i = 0; i < level.length && count < kept; i++, count++) {
          const index = level[i]!;
          order[count] = index;
          depths[count] = d + 1;
          relations[count] = relation;
          accessIndexes[count] = numbered(accesses, this.tenantOf[index]! * readerListCount + this.readersOf[index]!);
          farthest[relation] = d + 1;
        }
      }
    }
    const access = (key: number) => ({ tenant: this.tenants.value(Math.floor(key / readerListCount)), readers: this.readerLists.value(key % readerListCount) });
    return {
      jobIds: this.ids.utf8Of(order),
      accesses: JSON.stringify(Array.from(accesses.keys(), access)),
      depths,
      relations,
      accessIndexes,
      edgeIndexes: rootIndex === undefined ? new Int32Array(0) : this.edgesAmong(rootIndex, order),
      truncation: [...truncation].sort(),
      ancestorDepth: farthest[0]!,
      descendantDepth: farthest[1]!,
    };
  }

  /** The edges into each of [root, ...nodes] in turn, each child's in the order of its parents, as index pairs into [root, ...nodes] (buildLineage's edges). */
  private edgesAmong(rootIndex: number, nodes: Int32Array): Int32Array<ArrayBuffer> {
    const { visited, positions } = this;
    const placed = this.nextStamp();
    const indexAt = (child: number) => (child === 0 ? rootIndex : nodes[child - 1]!);
    let parents = 0;
    for (let child = 0; child <= nodes.length; child++) {
      const index = indexAt(child);
      visited[index] = placed;
      positions[index] = child;
      parents += this.parentCount[index]!;
    }
    // Room for every parent; the answer is the part filled (a view, whose whole buffer is moved).
    const edges = new Int32Array(2 * parents);
    let length = 0;
    for (let child = 0; child <= nodes.length; child++) {
      const index = indexAt(child);
      const start = this.parentStart[index]!;
      if (start === NO_ROW) continue;
      for (let p = start, end = start + this.parentCount[index]!; p < end; p++) {
        const parentIndex = this.parentPool[p]!;
        if (visited[parentIndex] !== placed) continue;
        edges[length++] = positions[parentIndex]!;
        edges[length++] = child;
      }
    }
    return edges.subarray(0, length);
  }

  /** The indexes first reached at each depth up to maxDepth (levels[d]: depth d + 1), in no order; parents with no row are passed through but not listed. */
  private levels(rootIndex: number, direction: LineageDirection, maxDepth: number): number[][] {
    const levels: number[][] = [];
    const visited = this.visited;
    const walk = this.nextStamp();
    visited[rootIndex] = walk;
    let frontier = [rootIndex];
    for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
      const next: number[] = [];
      const reach = (neighbour: number) => {
        if (visited[neighbour] === walk) return;
        visited[neighbour] = walk;
        next.push(neighbour);
      };
      for (const index of frontier) {
        if (direction === 'ANCESTORS') {
          const start = this.parentStart[index]!;
          if (start === NO_ROW) continue;
          for (let p = start, end = start + this.parentCount[index]!; p < end; p++) reach(this.parentPool[p]!);
        } else {
          this.forEachChild(index, reach);
        }
      }
      levels.push(next.filter((index) => this.parentStart[index] !== NO_ROW));
      frontier = next;
    }
    return levels;
  }

  /** LineageStepper: each job's row in the ids view with its children's ids (each once; ids without a row are left out). */
  step(jobIds: readonly string[]): LineageStepRow[] {
    const rows: LineageStepRow[] = [];
    for (const jobId of new Set(jobIds)) {
      const index = this.ids.find(jobId);
      if (index === undefined || this.parentStart[index] === NO_ROW) continue;
      // A child listed both in the compacted pool and among the extras (its parents changed back) is named once.
      const children = new Set<number>();
      this.forEachChild(index, (child) => children.add(child));
      rows.push({
        jobId,
        parentIds: this.parentIdsOf(index),
        tenant: this.tenants.value(this.tenantOf[index]!),
        readers: this.readerLists.value(this.readersOf[index]!),
        childIds: [...children].map((child) => this.ids.id(child)),
      });
    }
    return rows;
  }

  /** Calls reach with each job that has index among its parents now: a child run may name a job whose parents changed since, which its parents tell. */
  private forEachChild(index: number, reach: (child: number) => void): void {
    if (index < this.compactedCount) {
      for (let c = this.childStart[index]!, end = this.childStart[index + 1]!; c < end; c++) {
        const child = this.childPool[c]!;
        if (this.hasParent(child, index)) reach(child);
      }
    }
    for (const child of this.extraChildren.get(index) ?? []) {
      if (this.hasParent(child, index)) reach(child);
    }
  }

  private row(index: number, depth: number): LineageRow {
    return { jobId: this.ids.id(index), parentIds: this.parentIdsOf(index), tenant: this.tenants.value(this.tenantOf[index]!), readers: this.readerLists.value(this.readersOf[index]!), depth };
  }

  private parentIdsOf(index: number): string[] {
    const start = this.parentStart[index]!;
    const parentIds = new Array<string>(this.parentCount[index]!);
    for (let p = 0; p < parentIds.length; p++) parentIds[p] = this.ids.id(this.parentPool[start + p]!);
    return parentIds;
  }

  private hasParent(child: number, parent: number): boolean {
    const start = this.parentStart[child]!;
    if (start === NO_ROW) return false;
    for (let p = start, end = start + this.parentCount[child]!; p < end; p++) if (this.parentPool[p] === parent) return true;
    return false;
  }

  /** The index of an id, given one if it has none yet. */
  private index(id: string): number {
    const known = this.ids.count;
    const index = this.ids.intern(id);
    if (index === known) {
      if (index >= this.parentStart.length) this.growIndexes();
      this.parentStart[index] = NO_ROW;
      this.parentCount[index] = 0;
    }
    return index;
  }

  private growIndexes(): void {
    const length = this.parentStart.length * 2;
    this.parentStart = grown(this.parentStart, length);
    this.parentCount = grown(this.parentCount, length);
    this.tenantOf = grown(this.tenantOf, length);
    this.readersOf = grown(this.readersOf, length);
    this.visited = grown(this.visited, length);
    this.positions = grown(this.positions, length);
    this.placeholderKeys = grown(this.placeholderKeys, length);
  }

  /** A stamp no entry of visited holds yet; after 2^31 - 1 of them, visited is cleared and they start again. */
  private nextStamp(): number {
    if (this.stamp === 0x7fffffff) {
      this.visited.fill(0);
      this.stamp = 0;
    }
    return ++this.stamp;
  }

  private add([jobId, parentIdsJson, tenant, readersJson]: JobColumns, listAsChild = true): void {
    const index = this.index(jobId);
    const parents = (JSON.parse(parentIdsJson) as string[]).map((parentId) => this.index(parentId));
    if (this.parentPoolLength + parents.length > this.parentPool.length) {
      this.parentPool = grown(this.parentPool, Math.max(this.parentPool.length * 2, this.parentPoolLength + parents.length));
    }
    this.parentStart[index] = this.parentPoolLength;
    this.parentCount[index] = parents.length;
    this.parentPool.set(parents, this.parentPoolLength);
    this.parentPoolLength += parents.length;
    this.tenantOf[index] = this.tenants.index(tenant, tenant);
    this.readersOf[index] = this.readerLists.index(readersJson, () => JSON.parse(readersJson) as string[]);
    if (!listAsChild) return;
    for (const parent of parents) {
      let children = this.extraChildren.get(parent);
      if (children === undefined) this.extraChildren.set(parent, (children = []));
      children.push(index);
    }
    this.extraChildCount += parents.length;
  }

  /** The job has no row any more (its old run of parents, and its place among their children, become garbage). */
  private remove(index: number): void {
    if (this.parentStart[index] === NO_ROW) return;
    this.parentGarbage += this.parentCount[index]!;
    this.parentStart[index] = NO_ROW;
    this.parentCount[index] = 0;
  }

  private clear(): void {
    for (let index = 0; index < this.ids.count; index++) this.remove(index);
    this.compact();
  }

  private compactIfWasteful(): void {
    const waste = this.parentGarbage + this.extraChildCount;
    if (waste > 1024 && waste * 4 > this.parentPoolLength) this.compact();
  }

  /** Rewrites the parent pool without garbage and the child pool from it (counting sort by parent), and empties the extras. */
  private compact(): void {
    const count = this.ids.count;
    const parentPool = new Int32Array(Math.max(1024, this.parentPoolLength - this.parentGarbage));
    const childCounts = new Int32Array(count + 1);
    let length = 0;
    for (let index = 0; index < count; index++) {
      const start = this.parentStart[index]!;
      if (start === NO_ROW) continue;
      const parents = this.parentPool.subarray(start, start + this.parentCount[index]!);
      parentPool.set(parents, length);
      this.parentStart[index] = length;
      length += parents.length;
      for (const parent of parents) childCounts[parent + 1] = childCounts[parent + 1]! + 1;
    }
    for (let index = 0; index < count; index++) childCounts[index + 1] = childCounts[index + 1]! + childCounts[index]!;
    const childPool = new Int32Array(length);
    const filled = childCounts.slice(0, count);
    for (let index = 0; index < count; index++) {
      const start = this.parentStart[index]!;
      if (start === NO_ROW) continue;
      for (let p = start, end = start + this.parentCount[index]!; p < end; p++) {
        const parent = parentPool[p]!;
        childPool[filled[parent]!] = index;
        filled[parent] = filled[parent]! + 1;
      }
    }
    this.parentPool = parentPool;
    this.parentPoolLength = length;
    this.parentGarbage = 0;
    this.childStart = childCounts;
    this.childPool = childPool;
    this.compactedCount = count;
    this.extraChildren.clear();
    this.extraChildCount = 0;
    this.rankIds();
  }

  /** Ranks every id interned so far (rank). */
  private rankIds(): void {
    const { count } = this.ids;
    this.byRank = new Int32Array(count);
    for (let index = 0; index < count; index++) this.byRank[index] = index;
    this.byRank.sort((a, b) => this.ids.compare(a, b));
    this.rank = new Int32Array(count);
    for (let place = 0; place < count; place++) this.rank[this.byRank[place]!] = place;
    this.rankedCount = count;
  }

  /** The ids at the indexes of level in code-unit order (level itself, sorted): as the ints of their places when all are ranked. */
  private sortedByJobId(level: number[]): number[] {
    const { rank, byRank, rankedCount } = this;
    // A loop, not Int32Array.from with a mapping function, which V8 runs as a generic iteration.
    const places = new Int32Array(level.length);
    for (let i = 0; i < level.length; i++) {
      const index = level[i]!;
      if (index >= rankedCount) return level.sort((a, b) => this.ids.compare(a, b));
      places[i] = rank[index]!;
    }
    places.sort();
    for (let i = 0; i < places.length; i++) level[i] = byRank[places[i]!]!;
    return level;
  }

  /**
   * How the jobs of a level are ordered, by index: by job id; or, for the
   * caller shownTo names (shown-order.ts), those it may read by job id and
   * then the others by placeholder. Who may read is asked once per tenant
   * and reader list, and a placeholder made once per job.
   */
  private levelOrder(shownTo: ShownTo | undefined): LevelOrder<number> {
    const byJobId: LevelOrder<number> = { sort: (level) => this.sortedByJobId(level), compare: (a, b) => this.compareIds(a, b) };
    if (!shownTo) return byJobId;
    const viewer = JobViewer.of(shownTo);
    const placeholderKeys = this.placeholderKeysFor(shownTo.placeholderKey);
    const readerListCount = this.readerLists.values.length;
    const readableAccess = new Map<number, boolean>();
    const reads = (index: number): boolean => {
      const [tenant, readers] = [this.tenantOf[index]!, this.readersOf[index]!];
      const key = tenant * readerListCount + readers;
      let readable = readableAccess.get(key);
      if (readable === undefined) readableAccess.set(key, (readable = viewer.mayRead({ tenant: this.tenants.value(tenant), readers: this.readerLists.value(readers) })));
      return readable;
    };
    const placeholderKeyOf = (index: number): number => {
      let key = placeholderKeys[index]!;
      if (key === 0) placeholderKeys[index] = key = placeholderOrderKey(this.ids.id(index), shownTo.placeholderKey) + 1;
      return key;
    };
    // Ties of the keys, which a hash makes rare, are broken as the placeholders' strings order.
    const compareHidden = (a: number, b: number) => placeholderKeyOf(a) - placeholderKeyOf(b) || compareCodeUnits(viewer.placeholder(this.ids.id(a)), viewer.placeholder(this.ids.id(b)));
    return {
      sort: (level) => {
        const [readable, hidden]: [number[], number[]] = [[], []];
        for (const index of level) (reads(index) ? readable : hidden).push(index);
        if (hidden.length === 0) return this.sortedByJobId(level);
        const sorted = this.sortedByJobId(readable);
        for (const index of hidden.sort(compareHidden)) sorted.push(index);
        return sorted;
      },
      compare: (a, b) => {
        const [readsA, readsB] = [reads(a), reads(b)];
        if (readsA !== readsB) return readsA ? -1 : 1;
        return readsA ? this.compareIds(a, b) : compareHidden(a, b);
      },
    };
  }

  /** The placeholder-order keys of every id under key (placeholderKeys), emptied when the key is another than the one they were made with. */
  private placeholderKeysFor(key: Uint8Array): Float64Array<ArrayBuffer> {
    if (!this.placeholderKey || Buffer.compare(this.placeholderKey, key) !== 0) {
      this.placeholderKeys.fill(0);
      this.placeholderKey = Uint8Array.from(key);
    }
    return this.placeholderKeys;
  }

  /** Code-unit order of two ids by their indexes: by rank when both are ranked. */
  private compareIds(a: number, b: number): number {
    return a < this.rankedCount && b < this.rankedCount ? this.rank[a]! - this.rank[b]! : this.ids.compare(a, b);
  }
}

/** Values many jobs share (tenants, reader lists), each held once, by key, with its index in values. */
export class Interned<T> {
  private readonly indexOf = new Map<string, number>();
  readonly values: T[] = [];

  index(key: string, value: T | (() => T)): number {
    let index = this.indexOf.get(key);
    if (index === undefined) {
      index = this.values.length;
      this.indexOf.set(key, index);
      this.values.push(typeof value === 'function' ? (value as () => T)() : value);
    }
    return index;
  }

  value(index: number): T {
    return this.values[index]!;
  }
}

/** The number of key in numbers, given the next one if it has none. */
function numbered(numbers: Map<number, number>, key: number): number {
  let number = numbers.get(key);
  if (number === undefined) numbers.set(key, (number = numbers.size));
  return number;
}

function prepareStatements(db: Database.Database) {
  return {
    db,
    latestChange: db.prepare<[], number | null>('SELECT max(seq) FROM lineage_changes').pluck(),
    oldestChange: db.prepare<[], number | null>('SELECT min(seq) FROM lineage_changes').pluck(),
    changedJobIds: db.prepare<[number], string>('SELECT DISTINCT job_id FROM lineage_changes WHERE seq > ?').pluck(),
    jobsByIds: db.prepare<[string], JobColumns>('SELECT job_id, parent_ids, tenant, readers FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))').raw(),
  };
}
