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
  private readonly jobs = new Map<string, GraphJob>();
  /** Children by parent id, including parents with no row (dangling references). */
  private readonly children = new Map<string, string[]>();
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
      this.jobs.clear();
      this.children.clear();
      for (const columns of allJobs.all()) this.add(columns);
    } else {
      const changed = changedJobIds.all(this.appliedThrough);
      for (const jobId of changed) this.remove(jobId);
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
    const seen = new Set<string>([rootId]);
    let frontier = [rootId];
    for (let depth = 0; depth < maxDepth && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const id of frontier) {
        const neighbours = direction === 'ANCESTORS' ? this.jobs.get(id)?.parentIds : this.children.get(id);
        if (neighbours === undefined) continue;
        for (const neighbour of neighbours) {
          if (seen.has(neighbour)) continue;
          seen.add(neighbour);
          next.push(neighbour);
          const job = this.jobs.get(neighbour);
          if (job !== undefined) found.push({ jobId: job.jobId, parentIds: job.parentIds, tenant: job.tenant, readers: job.readers, depth: depth + 1 });
        }
      }
      frontier = next;
    }
    return found;
  }

  private add([jobId, parentIds, tenant, readers]: JobColumns): void {
    const job: GraphJob = { jobId, parentIds: JSON.parse(parentIds) as string[], tenant, readers: JSON.parse(readers) as string[] };
    this.jobs.set(jobId, job);
    for (const parentId of job.parentIds) {
      const siblings = this.children.get(parentId);
      if (siblings === undefined) this.children.set(parentId, [jobId]);
      else siblings.push(jobId);
    }
  }

  private remove(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (job === undefined) return;
    this.jobs.delete(jobId);
    for (const parentId of job.parentIds) {
      const siblings = this.children.get(parentId)!.filter((id) => id !== jobId);
      if (siblings.length === 0) this.children.delete(parentId);
      else this.children.set(parentId, siblings);
    }
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
