import type Database from 'better-sqlite3';
import type { LineageDirection, LineageRow } from '../../domain/lineage.js';

/** What the graph keeps of each job: enough for a lineage in the ids view. */
export interface GraphJob {
  jobId: string;
  parentIds: string[];
  tenant: string;
  readers: string[];
}

type JobColumns = [jobId: string, parentIds: string, tenant: string, readers: string];

/**
 * The lineage graph of the jobs table, held in memory: each job's parents,
 * tenant and readers, and each job's children. A walk over it costs a
 * fraction of a recursive query over the table (one B-tree search per job
 * reached, and a temporary B-tree to remove repeats): on the 100,000-job
 * graph of bench/, a 70,000-job ancestry takes about a tenth of the time.
 *
 * It stays equal to the table, whichever process or connection writes:
 * triggers number every change to a job's parents, tenant or readers in
 * lineage_changes (schema.ts), and refresh() applies the changes numbered
 * after the last one applied, or reloads everything when the table has
 * already dropped some of them (it keeps the last LINEAGE_CHANGES_KEPT).
 * Callers refresh inside the read transaction of the query they answer, so
 * the graph and the rows they read next are of one snapshot.
 */
export class LineageGraph {
  /**
   * Every job id the graph knows (jobs, and parents with no row) gets an
   * index for good; a walk marks indexes in a typed array instead of hashing
   * ids into a Set, and ids are held once, so the parent arrays handed out
   * share the strings (and their cached hashes) of the job ids.
   */
  private readonly indexOf = new Map<string, number>();
  private readonly ids: string[] = [];
  /** By index: the job's row, undefined for an id named only as a parent. */
  private readonly jobs: Array<GraphJob | undefined> = [];
  private readonly parentIndexes: Array<number[] | undefined> = [];
  private readonly childIndexes: number[][] = [];
  /** visited[i] === walkNumber when the current walk has reached index i. */
  private visited = new Int32Array(0);
  private walkNumber = 0;
  private appliedThrough: number | undefined;
  private readonly statements: ReturnType<typeof prepareStatements>;

  constructor(db: Database.Database) {
    this.statements = prepareStatements(db);
  }

  /** Brings the graph up to the table's latest change. */
  refresh(): void {
    const { latestChange, oldestChange, changedJobIds, jobsByIds, allJobs } = this.statements;
    const latest = latestChange.get() ?? 0;
    if (latest === this.appliedThrough) return;
    const oldest = oldestChange.get() ?? 0;
    if (this.appliedThrough === undefined || oldest > this.appliedThrough + 1) {
      for (let i = 0; i < this.ids.length; i++) this.remove(i);
      for (const columns of allJobs.all()) this.add(columns);
    } else {
      const changed = changedJobIds.all(this.appliedThrough);
      for (const jobId of changed) {
        const index = this.indexOf.get(jobId);
        if (index !== undefined) this.remove(index);
      }
      for (const columns of jobsByIds.all(JSON.stringify(changed))) this.add(columns);
    }
    this.appliedThrough = latest;
  }

  /**
   * Every job within maxDepth edges of the root in that direction, the root
   * excluded, nearest first, with its shortest depth. Parents with no row are
   * passed through but not returned (they have no parents of their own, so
   * nothing lies behind them).
   */
  walk(rootId: string, direction: LineageDirection, maxDepth: number): LineageRow[] {
    const found: LineageRow[] = [];
    const rootIndex = this.indexOf.get(rootId);
    if (rootIndex === undefined) return found;
    const visited = this.visited;
    const walk = ++this.walkNumber;
    const neighboursOf = direction === 'ANCESTORS' ? this.parentIndexes : this.childIndexes;
    visited[rootIndex] = walk;
    let frontier = [rootIndex];
    for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
      const next: number[] = [];
      for (const index of frontier) {
        const neighbours = neighboursOf[index];
        if (neighbours === undefined) continue;
        for (const neighbour of neighbours) {
          if (visited[neighbour] === walk) continue;
          visited[neighbour] = walk;
          next.push(neighbour);
          const job = this.jobs[neighbour];
          if (job !== undefined) found.push({ jobId: job.jobId, parentIds: job.parentIds, tenant: job.tenant, readers: job.readers, depth });
        }
      }
      frontier = next;
    }
    return found;
  }

  /** The index of an id, given one if it has none yet. */
  private index(id: string): number {
    let index = this.indexOf.get(id);
    if (index === undefined) {
      index = this.ids.length;
      this.indexOf.set(id, index);
      this.ids.push(id);
      this.jobs.push(undefined);
      this.parentIndexes.push(undefined);
      this.childIndexes.push([]);
      if (index >= this.visited.length) {
        const grown = new Int32Array(Math.max(1024, this.visited.length * 2));
        grown.set(this.visited);
        this.visited = grown;
      }
    }
    return index;
  }

  private add([jobId, parentIdsJson, tenant, readers]: JobColumns): void {
    const index = this.index(jobId);
    const parents = (JSON.parse(parentIdsJson) as string[]).map((parentId) => this.index(parentId));
    this.jobs[index] = { jobId: this.ids[index]!, parentIds: parents.map((parent) => this.ids[parent]!), tenant, readers: JSON.parse(readers) as string[] };
    this.parentIndexes[index] = parents;
    for (const parent of parents) this.childIndexes[parent]!.push(index);
  }

  private remove(index: number): void {
    const parents = this.parentIndexes[index];
    if (parents === undefined) return;
    for (const parent of parents) this.childIndexes[parent] = this.childIndexes[parent]!.filter((child) => child !== index);
    this.jobs[index] = undefined;
    this.parentIndexes[index] = undefined;
  }
}

function prepareStatements(db: Database.Database) {
  const columns = 'job_id, parent_ids, tenant, readers';
  return {
    latestChange: db.prepare<[], number | null>('SELECT max(seq) FROM lineage_changes').pluck(),
    oldestChange: db.prepare<[], number | null>('SELECT min(seq) FROM lineage_changes').pluck(),
    changedJobIds: db.prepare<[number], string>('SELECT DISTINCT job_id FROM lineage_changes WHERE seq > ?').pluck(),
    jobsByIds: db.prepare<[string], JobColumns>(`SELECT ${columns} FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))`).raw(),
    allJobs: db.prepare<[], JobColumns>(`SELECT ${columns} FROM jobs`).raw(),
  };
}
