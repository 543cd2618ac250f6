import type Database from 'better-sqlite3';
import { compareCodeUnits } from '../../domain/hashing.js';
import type { CacheState, JobStatus } from '../../domain/job.js';
import type { LineageDirection, LineageRow } from '../../domain/lineage.js';
import type { LineageStepRow } from '../../domain/lineage-stream.js';
import type { LineageQuery } from '../../domain/ports/provenance-store.js';
import { JobViewer } from '../../domain/job-view.js';
import { shownOrder, type ShownTo } from '../../domain/shown-order.js';
import { DOC_WITH_OUTBOX, decodeRecord } from './record-json.js';

/**
 * What finds the jobs of a lineage with their depths: the in-memory graph,
 * or the table (TableWalk) while the graph loads. Rows nearest first, then
 * by job id (code units), or as shownTo is shown them: the order buildLineage gives, so that its sort,
 * on the thread that serves calls, meets runs already in order (linear
 * work); of more than nearest + 1 rows, the nearest ones and the farthest
 * (LineageQuery.nearest).
 */
export interface LineageWalker {
  walk(rootId: string, direction: LineageDirection, maxDepth: number, nearest?: number, shownTo?: ShownTo): LineageRow[];
}

/** What answers ProvenanceStore.lineageStep: the in-memory graph, or the table (TableWalk) while the graph loads. */
export interface LineageStepper {
  step(jobIds: readonly string[]): LineageStepRow[];
}

/** How the items of one level of a walk are ordered (by job id, or as a caller is shown them: shown-order.ts): sort returns them sorted (the array it was given, or another), compare orders two. */
export interface LevelOrder<T> {
  sort(level: T[]): T[];
  compare(a: T, b: T): number;
}

/** A level order from a comparison alone. */
export function levelOrderOf<T>(compare: (a: T, b: T) => number): LevelOrder<T> {
  return { sort: (level) => level.sort(compare), compare };
}

/**
 * The rows of a walk's levels (levels[d]: the jobs first reached at depth
 * d + 1) in LineageWalker's order and cut, each level in order: only the
 * levels up to the cut are sorted, and only the rows kept are made.
 */
export function orderedRows<T>(levels: T[][], order: LevelOrder<T>, nearest: number, row: (item: T, depth: number) => LineageRow): LineageRow[] {
  const total = levels.reduce((sum, level) => sum + level.length, 0);
  const kept = total > nearest + 1 ? nearest : total;
  const rows: LineageRow[] = [];
  for (let d = 0; d < levels.length && rows.length < kept; d++) {
    const level = order.sort(levels[d]!);
    for (let i = 0; i < level.length && rows.length < kept; i++) rows.push(row(level[i]!, d + 1));
  }
  if (kept < total) {
    const deepest = levels.findLastIndex((level) => level.length > 0);
    const farthest = levels[deepest]!.reduce((a, b) => (order.compare(a, b) >= 0 ? a : b));
    rows.push(row(farthest, deepest + 1));
  }
  return rows;
}

/**
 * The rows of a lineage in the projection asked for: the walk's rows in the
 * ids view, with type, status and cache state read for SUMMARY, or the whole
 * documents for FULL. Called inside one read transaction, so that the walk
 * and the rows are of one snapshot.
 */
export class LineageRows {
  private readonly summaries: Database.Statement<[string], [jobId: string, type: string, status: JobStatus, cacheState: CacheState]>;
  private readonly docs: Database.Statement<[string], { jobId: string; doc: string }>;

  constructor(db: Database.Database) {
    this.summaries = db.prepare<[string], [string, string, JobStatus, CacheState]>(
      'SELECT job_id, type, status, cache_state FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))',
    ).raw();
    this.docs = db.prepare<[string], { jobId: string; doc: string }>(`SELECT job_id AS jobId, ${DOC_WITH_OUTBOX} AS doc FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))`);
  }

  read(walker: LineageWalker, query: LineageQuery): LineageRow[] {
    const jobs = walker.walk(query.rootId, query.direction, query.maxDepth ?? Infinity, query.nearest, query.shownTo);
    if (query.projection === 'IDS') return jobs;
    const ids = JSON.stringify(jobs.map((job) => job.jobId));
    if (query.projection === 'FULL') {
      const docs = new Map(this.docs.all(ids).map((doc) => [doc.jobId, doc]));
      return jobs.map((job) => fullLineageRow(docs.get(job.jobId)!, job.depth!));
    }
    const summaries = new Map(this.summaries.all(ids).map((row) => [row[0], row]));
    return jobs.map((job): LineageRow => {
      const [, type, status, cacheState] = summaries.get(job.jobId)!;
      return { ...job, type, status, cacheState };
    });
  }
}

/**
 * The same walk as LineageGraph's, read from the table one depth at a time
 * (one statement per depth, one index search per job): what answers while
 * the graph loads. Same rows, same shortest depths, and it ends on cycles,
 * since each job is reached once. A single recursive query could not keep
 * depths shortest without visiting a job once per path length.
 */
export class TableWalk implements LineageWalker, LineageStepper {
  private readonly rows: Database.Statement<[string], [jobId: string, parentIds: string, tenant: string, readers: string]>;
  private readonly children: Database.Statement<[string], string>;
  private readonly edgesFrom: Database.Statement<[string], [parentId: string, childId: string]>;

  constructor(db: Database.Database) {
    this.rows = db.prepare<[string], [string, string, string, string]>(
      'SELECT job_id, parent_ids, tenant, readers FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))',
    ).raw();
    this.children = db.prepare<[string], string>('SELECT DISTINCT child_id FROM job_parents WHERE parent_id IN (SELECT value FROM json_each(?))').pluck();
    this.edgesFrom = db.prepare<[string], [string, string]>('SELECT DISTINCT parent_id, child_id FROM job_parents WHERE parent_id IN (SELECT value FROM json_each(?))').raw();
  }

  /** LineageStepper: two statements, the rows and the edges from them. */
  step(jobIds: readonly string[]): LineageStepRow[] {
    const ids = JSON.stringify(jobIds);
    const childIds = new Map<string, string[]>();
    for (const [parentId, childId] of this.edgesFrom.all(ids)) {
      let children = childIds.get(parentId);
      if (!children) childIds.set(parentId, (children = []));
      children.push(childId);
    }
    return this.rows.all(ids).map(([jobId, parentIds, tenant, readers]) => ({
      jobId,
      parentIds: JSON.parse(parentIds) as string[],
      tenant,
      readers: JSON.parse(readers) as string[],
      childIds: childIds.get(jobId) ?? [],
    }));
  }

  /** The same walk, given up (WalkPastLimit) once it has reached more than maxJobs jobs. */
  upTo(maxJobs: number): LineageWalker {
    return { walk: (rootId, direction, maxDepth, nearest, shownTo) => this.walk(rootId, direction, maxDepth, nearest, shownTo, maxJobs) };
  }

  walk(rootId: string, direction: LineageDirection, maxDepth: number, nearest = Infinity, shownTo?: ShownTo, maxJobs = Infinity): LineageRow[] {
    const levels: LineageRow[][] = [];
    const reached = new Set([rootId]);
    // The root need not have a row to have descendants; its ancestors come from its row.
    let frontier = direction === 'ANCESTORS' ? this.read([rootId], 0) : [];
    let frontierIds = [rootId];
    for (let depth = 1; depth <= maxDepth && frontierIds.length > 0; depth++) {
      const next = direction === 'ANCESTORS' ? frontier.flatMap((row) => row.parentIds) : this.children.all(JSON.stringify(frontierIds));
      const fresh = next.filter((id) => !reached.has(id) && reached.add(id));
      if (reached.size > maxJobs + 1) throw new WalkPastLimit();
      frontier = this.read(fresh, depth);
      frontierIds = frontier.map((row) => row.jobId);
      levels.push(frontier);
    }
    const byJobId = (a: LineageRow, b: LineageRow) => compareCodeUnits(a.jobId, b.jobId);
    const order = shownTo ? shownOrder<LineageRow>(JobViewer.of(shownTo), (row) => row.jobId, (row) => row) : byJobId;
    return orderedRows(levels, levelOrderOf(order), nearest, (row) => row);
  }

  private read(ids: readonly string[], depth: number): LineageRow[] {
    return this.rows.all(JSON.stringify(ids)).map(([jobId, parentIds, tenant, readers]) => ({
      jobId,
      parentIds: JSON.parse(parentIds) as string[],
      tenant,
      readers: JSON.parse(readers) as string[],
      depth,
    }));
  }
}

/** A TableWalk.upTo walk that reached more jobs than its limit. */
export class WalkPastLimit extends Error {
  constructor() {
    super('the walk reached more jobs than its limit');
  }
}

function fullLineageRow({ doc }: { doc: string }, depth: number): LineageRow {
  const record = decodeRecord(doc);
  return {
    depth,
    jobId: record.jobId,
    parentIds: record.parentIds,
    tenant: record.tenant,
    readers: record.readers,
    type: record.type,
    status: record.status,
    cacheState: record.cacheState,
    record,
  };
}
