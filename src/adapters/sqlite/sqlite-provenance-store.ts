import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { cacheKeySalt } from '../../domain/cache-salt.js';
import { newEtag } from '../../domain/ids.js';
import { decodeJobState, encodeJobState, historyEntry, stateOf, type JobHistoryEntry, type JobState } from '../../domain/job-history.js';
import type { JobAccess } from '../../domain/access.js';
import type { CacheState, JobOrigin, JobRecord, JobStatus } from '../../domain/job.js';
import { findCycle, type LineageRow } from '../../domain/lineage.js';
import { StepSizes } from '../../domain/step-sizes.js';
import type { LineageStepRow } from '../../domain/lineage-stream.js';
import type {
  BuiltLineage,
  BuiltLineageQuery,
  InsertOutcome,
  LineageQuery,
  ListJobsQuery,
  PendingEventsClearance,
  ProvenanceStore,
  Replacement,
  ReusableResultQuery,
  StatusQuery,
  StoreLoading,
} from '../../domain/ports/provenance-store.js';
import { unpackBuiltLineage, type PackedBuiltLineage } from './built-lineage.js';
import { LineageGraph } from './lineage-graph.js';
import { LineageGraphThread } from './lineage-graph-thread.js';
import { FALLBACK_AUTOCHECKPOINT_PAGES, WalCheckpointThread } from './wal-checkpoint-thread.js';
import { SqliteAuditLog } from './sqlite-audit-log.js';
import { LineageRows } from './lineage-rows.js';
import { DOC_WITH_OUTBOX, decodeRecord, encodeRecord } from './record-json.js';
import { encodeOutboxes } from './outbox-json.js';
import { OUTBOX_WRITE_RECORDS, migrate } from './schema.js';
import { unavailableOrAsIs } from './sqlite-errors.js';

const MEMORY_PATH = ':memory:';

/** The most jobs markStale marks in one transaction; fewer when the last one took longer than its budget (StepSizes). */
export const MARK_STALE_STEP = 1_000;
/** The fewest: the first step, and every step on a machine too busy to write more within the budget. */
const LEAST_MARK_STALE_STEP = 20;

/** The columns of a jobs row, as named parameters of the insert and update statements. */
interface JobRow {
  jobId: string;
  tenant: string;
  requestId: string | null;
  type: string;
  status: JobStatus;
  cacheState: CacheState;
  definitionHash: string;
  inputHash: string;
  providerId: string;
  providerModel: string;
  providerVersion: string;
  createdAt: number;
  completedAt: number | null;
  origin: JobOrigin;
  etag: string;
  parentIds: string;
  labels: string;
  readers: string;
  payloadRedacted: number;
  cacheSalt: string;
  doc: string;
}

/** The column of each field of JobRow. */
const COLUMN_OF: Readonly<Record<keyof JobRow, string>> = {
  jobId: 'job_id',
  tenant: 'tenant',
  requestId: 'request_id',
  type: 'type',
  status: 'status',
  cacheState: 'cache_state',
  definitionHash: 'definition_hash',
  inputHash: 'input_hash',
  providerId: 'provider_id',
  providerModel: 'provider_model',
  providerVersion: 'provider_version',
  createdAt: 'created_at',
  completedAt: 'completed_at',
  origin: 'origin',
  etag: 'etag',
  parentIds: 'parent_ids',
  labels: 'labels',
  readers: 'readers',
  payloadRedacted: 'payload_redacted',
  cacheSalt: 'cache_salt',
  doc: 'doc',
};

/** The fields of JobRow in the order of the jobs insert's columns. */
const JOB_FIELDS = Object.keys(COLUMN_OF) as Array<keyof JobRow>;

/**
 * The most rows one INSERT of insertJobs writes (21 parameters each). A
 * statement per row, bound by name, cost 32-38 µs per row of the bench
 * graph against 25-29 for statements of 50 rows (1,000 rows a
 * transaction, edges in one statement; microbenchmark, four rounds each);
 * past some tens of rows the statement's own cost is spread thin.
 */
const MAX_ROWS_PER_INSERT = 64;

/** A stored row's columns that a replacement compares with the new row's: all but the key, and the etag and document, which a replacement always changes. */
type StoredRow = Omit<JobRow, 'jobId' | 'etag' | 'doc'>;
const COMPARED_COLUMNS = (Object.keys(COLUMN_OF) as Array<keyof JobRow>).filter(
  (field): field is keyof StoredRow => field !== 'jobId' && field !== 'etag' && field !== 'doc',
);

/**
 * How many sets of changed columns get an UPDATE of their own; a replacement
 * that changes another set writes every column. The lifecycle of a job
 * changes a handful of sets; a store that sees more (records replaced in
 * every possible way) stays bounded.
 */
const MAX_UPDATE_STATEMENTS = 64;

/**
 * Up to this many ids, getAccess binds each to a statement of its own count
 * (job_id IN (?, ?, …), a key lookup each): for a few ids, cheaper than one
 * walk of a JSON array, and than a statement run per id (measured at 0.7×
 * of two runs for GetJob's two parents).
 */
const KEY_LOOKUPS_UP_TO = 8;

/** job_id, tenant, readers (a JSON array) of a jobs row. */
type AccessRow = [jobId: string, tenant: string, readers: string];

/** No reader grants: most jobs' readers, shared rather than parsed for each row (JobAccess.readers is read-only). */
const NO_READERS: readonly string[] = Object.freeze([]);

function accessOfRow([jobId, tenant, readers]: AccessRow): JobAccess {
  return { jobId, tenant, readers: readers === '[]' ? NO_READERS : (JSON.parse(readers) as string[]) };
}

/** ProvenanceStore on one SQLite file (or in memory), through better-sqlite3. */
export class SqliteProvenanceStore implements ProvenanceStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  /**
   * The lineage graph on this thread, loaded by the first lineage query:
   * for an in-memory database (which no other thread can open), and for a
   * process that asks few lineage queries or none (lineageGraph 'on-demand').
   */
  private graph: LineageGraph | undefined;
  private lineageRows: LineageRows | undefined;
  /** replaceJobs's UPDATE statements, by the columns they write (updateStatement). */
  private readonly updates = new Map<string, Database.Statement<JobRow>>();
  /** insertJobs's multi-row INSERTs, by their number of rows (rowsInsert). */
  private readonly rowsInserts = new Map<number, Database.Statement<unknown[], string>>();

  private constructor(
    private readonly db: Database.Database,
    /** Else the graph is held on this thread (graph above). */
    private readonly graphThread: LineageGraphThread | undefined,
    /** Else this connection checkpoints by itself, at SQLite's default threshold. */
    private readonly checkpoints: WalCheckpointThread | undefined,
  ) {
    this.statements = prepareStatements(db);
  }

  /**
   * Opens (creating if needed) the database at path; ':memory:' for a private
   * in-memory one. A call waits busyTimeoutMs for a lock held by another
   * process before it fails UNAVAILABLE.
   *
   * lineageGraph 'background' (the default for a file): the lineage graph is
   * loaded at once on a thread of its own, which answers lineage queries
   * (docs/decisions.md, "SQLite lineage graph"); holdGraphLoad delays that
   * load until it settles, and tableWalkJobsWhileLoading sets how far a
   * lineage walks the table meanwhile before it waits for the graph (for
   * tests). 'on-demand': on this thread, at the first lineage query (a
   * process that asks none never holds it).
   */
  static open(options: {
    path: string;
    busyTimeoutMs?: number;
    lineageGraph?: 'background' | 'on-demand';
    holdGraphLoad?: Promise<void>;
    tableWalkJobsWhileLoading?: number;
  }): SqliteProvenanceStore {
    let db: Database.Database | undefined;
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    try {
      if (options.path !== MEMORY_PATH) mkdirSync(dirname(options.path), { recursive: true });
      db = new Database(options.path, { timeout: busyTimeoutMs });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      migrate(db);
      // After the migrations, whose statement journals may hold whole tables: see docs/decisions.md, "SQLite: temporary files in memory".
      db.pragma('temp_store = MEMORY');
      const background = options.path !== MEMORY_PATH && (options.lineageGraph ?? 'background') === 'background';
      // Checkpoints go to a thread of their own with the graph's (a serving process); see WalCheckpointThread.
      if (background) db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
      return new SqliteProvenanceStore(
        db,
        background ? new LineageGraphThread(options.path, busyTimeoutMs, options.holdGraphLoad, options.tableWalkJobsWhileLoading) : undefined,
        background ? new WalCheckpointThread(options.path, busyTimeoutMs, db) : undefined,
      );
    } catch (error) {
      db?.close();
      throw unavailableOrAsIs(error);
    }
  }

  /** The audit trail on this store's connection (sqlite-audit-log.ts says why); close it before the store. */
  auditLog(): SqliteAuditLog {
    return SqliteAuditLog.onConnection(this.db);
  }

  loading(): StoreLoading | undefined {
    return this.graphThread?.loading();
  }

  async ping(): Promise<void> {
    this.guarded(() => this.statements.ping.get());
  }

  async close(): Promise<void> {
    await this.graphThread?.close();
    // Before the last connection closes, which checkpoints the whole WAL and removes it.
    await this.checkpoints?.close();
    if (this.db.open) this.db.close();
  }

  /**
   * One immediate transaction: it holds the database's write lock, which
   * every writer of the file (any connection, any process) takes in turn, so
   * each record's cycle check reads committed data and the records written
   * before it in this transaction, and nothing can be written between the
   * check and the insert. Which of the batch's ids are taken, and which some
   * job names as a parent, is read once for the batch inside the
   * transaction and kept up to date with the batch's own inserts, instead
   * of two probes per record; generated ids are checked too, at no cost.
   * Records that pass go into a queue whose rows are written together
   * (insertQueued: a multi-row INSERT, one statement for their edges and one
   * for their readers) once it holds MAX_ROWS_PER_INSERT records, at the
   * end, and before a record that it could concern is decided (one it
   * names, one of the same id) and before any cycle check reads the tables,
   * so each record is decided as if those before it were written one by
   * one. The outboxes of the inserted records go into outbox rows at the
   * end (insertOutboxes). An insert writes no history entry: a job without
   * one is in its current state since its creation (statesAsOf), until its
   * first change writes the state it replaces (keepFirstState).
   */
  async insertJobs(records: readonly JobRecord[]): Promise<InsertOutcome[]> {
    const { takenAmong, namedAmong } = this.statements;
    return this.writing(() =>
      this.db
        .transaction((): InsertOutcome[] => {
          const ids = JSON.stringify(records.map((record) => record.jobId));
          const taken = new Set(takenAmong.all(ids));
          const named = new Set(namedAmong.all(ids));
          const outcomes: InsertOutcome[] = new Array(records.length);
          const inserted: JobRecord[] = [];
          /** Indexes of the records whose rows wait in the queue; the ids they hold and name. */
          let queued: number[] = [];
          const queuedIds = new Set<string>();
          const insertQueued = (): void => {
            if (queued.length === 0) return;
            const written = this.insertRows(queued.map((index) => toJobRow(records[index]!)));
            const added: JobRecord[] = [];
            for (const index of queued) {
              const record = records[index]!;
              // The id was free, so only the request id can have kept the row out.
              if (!written.has(record.jobId)) {
                outcomes[index] = { inserted: false, conflict: 'REQUEST_ID' };
                continue;
              }
              outcomes[index] = { inserted: true };
              taken.add(record.jobId);
              for (const parentId of record.parentIds) named.add(parentId);
              added.push(record);
            }
            this.insertEdgesAndReaders(added);
            inserted.push(...added);
            queued = [];
            queuedIds.clear();
          };
          records.forEach((record, index) => {
            if (queuedIds.has(record.jobId) || named.has(record.jobId)) insertQueued();
            // A record whose id is taken is refused for that, whatever its parents.
            if (taken.has(record.jobId)) {
              outcomes[index] = { inserted: false, conflict: 'JOB_ID' };
              return;
            }
            const cycle = this.cycleClosedBy(record, named.has(record.jobId));
            if (cycle) {
              outcomes[index] = { inserted: false, conflict: 'LINEAGE_CYCLE', cycle };
              return;
            }
            queued.push(index);
            queuedIds.add(record.jobId);
            for (const parentId of record.parentIds) queuedIds.add(parentId);
            // A full statement's rows go at once: their documents then die young, not a whole batch of them at a time.
            if (queued.length === MAX_ROWS_PER_INSERT) insertQueued();
          });
          insertQueued();
          this.insertOutboxes(inserted);
          return outcomes;
        })
        .immediate(),
    );
  }

  async replaceJob(record: JobRecord, expectedEtag: string): Promise<boolean> {
    const [replaced] = await this.replaceJobs([{ record, expectedEtag }]);
    return replaced!;
  }

  /**
   * Each replacement writes only the columns whose values differ from the
   * stored row's (with the etag and document, which always do): SQLite
   * maintains an index, and runs a trigger on a column, only when the
   * UPDATE names one of its columns. A worker's claim and outcome change
   * the status, hashes, cache state and completion time, so the indexes by
   * tenant and creation time, type and request id, and the lineage trigger
   * are left alone. A record's outbox is the one it carries (what an
   * earlier write left is either in it or was relayed): the replaced
   * records' outbox rows are replaced together at the end, the last
   * replacement of a record standing for it.
   */
  async replaceJobs(replacements: readonly Replacement[]): Promise<boolean[]> {
    return this.writing(() => this.db.transaction(() => this.replaceRows(replacements)).immediate());
  }

  /** The etags are read in the transaction that writes, so that no other writer can come between the check and the write. */
  async replaceJobsTogether(replacements: readonly Replacement[]): Promise<boolean[]> {
    const { storedRow } = this.statements;
    return this.writing(() =>
      this.db
        .transaction((): boolean[] => {
          const current = replacements.every(({ record, expectedEtag }) => storedRow.get(record.jobId, expectedEtag) !== undefined);
          return current ? this.replaceRows(replacements) : replacements.map(() => false);
        })
        .immediate(),
    );
  }

  /** replaceJobs's work, inside the caller's transaction. */
  private replaceRows(replacements: readonly Replacement[]): boolean[] {
    const { storedRow, insertFirstState, deleteEdges, deleteReaders } = this.statements;
    const replaced = new Map<string, JobRecord>();
    const applied = replacements.map(({ record, expectedEtag }) => {
      const previous = storedRow.get(record.jobId, expectedEtag);
      if (previous === undefined) return false;
      const row = toJobRow(record);
      const changed = COMPARED_COLUMNS.filter((field) => previous[field] !== row[field]);
      // keepFirstState for this one job, from the row just read: one statement fewer per replacement.
      if (previous.firstState !== null) insertFirstState.run(record.jobId, previous.createdAt, previous.firstState);
      this.updateStatement(changed).run(row);
      if (previous.parentIds !== row.parentIds) {
        deleteEdges.run(record.jobId);
        this.insertEdges(record.jobId, record.parentIds);
      }
      if (previous.readers !== row.readers || previous.createdAt !== row.createdAt) {
        deleteReaders.run({ jobId: record.jobId, readers: previous.readers, createdAt: previous.createdAt });
        this.insertReaders(record);
      }
      this.insertHistory(historyEntry(record, 'REPLACE'));
      replaced.set(record.jobId, record);
      return true;
    });
    if (replaced.size > 0) {
      const { deleteOutboxes } = this.statements;
      const left = deleteOutboxes.all(JSON.stringify([...replaced.keys()]));
      this.insertOutboxes([...replaced.values()]);
      this.deleteEmptyOutboxWrites(left);
    }
    return applied;
  }

  /** The UPDATE of these columns, the etag and the document; prepared once per set of columns, up to MAX_UPDATE_STATEMENTS sets. */
  private updateStatement(changed: ReadonlyArray<keyof StoredRow>): Database.Statement<JobRow> {
    const key = changed.join(',');
    let statement = this.updates.get(key);
    if (statement) return statement;
    if (this.updates.size >= MAX_UPDATE_STATEMENTS) return this.statements.updateJob;
    const assignments = [...changed, 'etag', 'doc'].map((field) => `${COLUMN_OF[field as keyof JobRow]} = @${field}`).join(', ');
    statement = this.db.prepare<JobRow>(`UPDATE jobs SET ${assignments} WHERE job_id = @jobId`);
    this.updates.set(key, statement);
    return statement;
  }

  /**
   * In transactions of about STEP_BUDGET_MS each (20 to MARK_STALE_STEP
   * jobs, StepSizes), with a turn of the event loop between: one
   * transaction for the 50,000 descendants of an invalidated job held every
   * other call for seconds, and steps of 1,000 for 100 ms to over a second
   * (docs/decisions.md, "Large invalidations, in steps"). The port allows
   * it: a repeat completes a list cut short.
   * The update returns the marked records (without payload and output, which
   * no state holds) for their history entries, in the same transaction.
   */
  async markStale(jobIds: readonly string[], now: Date): Promise<number> {
    const etag = newEtag();
    const updatedAt = now.toISOString();
    // Each id once, so that one named twice in two steps is neither counted nor given history twice.
    const unique = [...new Set(jobIds)];
    const steps = new StepSizes(LEAST_MARK_STALE_STEP, MARK_STALE_STEP);
    let count = 0;
    for (let from = 0; from < unique.length; ) {
      if (from > 0) await setImmediate();
      const size = steps.next;
      const ids = JSON.stringify(unique.slice(from, from + size));
      const started = performance.now();
      count += this.writing(() =>
        this.db
          .transaction((): number => {
            this.statements.keepFirstState.run(ids);
            const marked = this.statements.markStale.all({ jobIds: ids, etag, updatedAt });
            for (const doc of marked) {
              const record = decodeRecord(doc);
              this.insertHistory({ jobId: record.jobId, at: now, state: stateOf(record) });
            }
            return marked.length;
          })
          .immediate(),
      );
      steps.took(Math.min(size, unique.length - from), performance.now() - started);
      from += size;
    }
    return count;
  }

  async findReusableResult(query: ReusableResultQuery): Promise<JobRecord | undefined> {
    const doc = this.guarded(() =>
      this.statements.findReusableResult.get({
        tenant: query.tenant,
        definitionHash: query.definitionHash,
        inputHash: query.inputHash,
        cacheSalt: query.cacheKeySalt,
        completedAfter: query.completedAfter?.getTime() ?? null,
        excludeJobId: query.excludeJobId,
      }),
    );
    return doc === undefined ? undefined : decodeRecord(doc);
  }

  /**
   * Up to three statements for the whole batch, in one transaction: the
   * outboxes cleared up to their last event lose their job_outbox rows, the
   * others note how far they were cleared, and the outbox rows that no
   * record points to any more go (a relay clears the outboxes of a write's
   * records together: its row, whole). When every job named lost its
   * job_outbox row (the relay's case) no outbox of theirs is left to note,
   * and the second statement is not run.
   */
  async clearPendingEvents(clearances: readonly PendingEventsClearance[]): Promise<void> {
    if (clearances.length === 0) return;
    const batch = JSON.stringify(clearances.map(({ jobId, etag, upToSeq }) => [jobId, etag, upToSeq]));
    const { clearOutboxes, clearOutboxesPartly } = this.statements;
    this.writing(() =>
      this.db
        .transaction(() => {
          // One row per job deleted (job_id is job_outbox's key).
          const left = clearOutboxes.all(batch);
          if (left.length < new Set(clearances.map((clearance) => clearance.jobId)).size) clearOutboxesPartly.run(batch);
          this.deleteEmptyOutboxWrites(left);
        })
        .immediate(),
    );
  }

  async listWithPendingEvents(limit: number, afterJobId?: string): Promise<JobRecord[]> {
    return this.guarded(() =>
      this.statements.listWithPendingEvents.all({ afterJobId: afterJobId ?? '', limit }).map(decodeRecord),
    );
  }

  async listByStatus(query: StatusQuery): Promise<JobRecord[]> {
    const { listSubmittedByStatus, listByStatus } = this.statements;
    const page = { statuses: JSON.stringify(query.statuses), afterJobId: query.afterJobId ?? '', limit: query.limit };
    return this.guarded(() =>
      (query.origin === 'SUBMITTED' ? listSubmittedByStatus.all(page) : listByStatus.all({ ...page, origin: query.origin })).map(decodeRecord),
    );
  }

  async getJobs(jobIds: readonly string[]): Promise<JobRecord[]> {
    const { getJob, getJobs } = this.statements;
    // One id, GetJob's case: a key lookup, without a JSON array to write and parse.
    if (jobIds.length === 1) {
      const doc = this.guarded(() => getJob.get(jobIds[0]!));
      return doc === undefined ? [] : [decodeRecord(doc)];
    }
    return this.guarded(() => getJobs.all(JSON.stringify(jobIds)).map(decodeRecord));
  }

  async getAccess(jobIds: readonly string[]): Promise<JobAccess[]> {
    const { getAccessOf, getAccess } = this.statements;
    if (jobIds.length === 0) return [];
    if (jobIds.length > KEY_LOOKUPS_UP_TO) return this.guarded(() => getAccess.all(JSON.stringify(jobIds)).map(accessOfRow));
    // The few ids a record names (GetJob's parents), in one run, without a JSON array to write and walk; IN reads an id named twice once.
    return this.guarded(() => getAccessOf[jobIds.length - 1]!.all(...jobIds).map(accessOfRow));
  }

  async findByRequestIds(tenant: string, requestIds: readonly string[]): Promise<JobRecord[]> {
    return this.guarded(() =>
      this.statements.findByRequestIds.all(tenant, JSON.stringify(requestIds)).map(decodeRecord),
    );
  }

  async findReferencedIds(jobIds: readonly string[]): Promise<string[]> {
    return this.guarded(() => this.statements.findReferencedIds.all(JSON.stringify(jobIds)));
  }

  /**
   * One page of the records a reader may see: two walks newest first, each
   * of at most one page, then merged (a sort of two pages at most, however
   * many records there are). The reader's tenant is walked through the jobs
   * indexes; the records shared with its grant through job_readers, which
   * holds created_at for this, leaving out the reader's own tenant so that
   * no record comes twice. CROSS JOIN keeps job_readers as the outer loop,
   * read in index order.
   */
  async listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    // NULL for a reader no grant names: "= NULL" matches no row.
    const { tenant, grant = null } = query.reader;
    const own = listConditions(query, 'jobs');
    const shared = listConditions(query, 'shared');
    const sql = `
      SELECT doc FROM (
        SELECT * FROM (
          SELECT jobs.created_at, jobs.job_id, ${DOC_WITH_OUTBOX} AS doc FROM jobs
          WHERE jobs.tenant = ?${own.sql}
          ORDER BY jobs.created_at DESC, jobs.job_id DESC LIMIT ?)
        UNION ALL
        SELECT * FROM (
          SELECT shared.created_at, shared.job_id, ${DOC_WITH_OUTBOX} AS doc FROM job_readers AS shared CROSS JOIN jobs ON jobs.job_id = shared.job_id
          WHERE shared.subject = ? AND jobs.tenant <> ?${shared.sql}
          ORDER BY shared.created_at DESC, shared.job_id DESC LIMIT ?))
      ORDER BY created_at DESC, job_id DESC LIMIT ?`;
    const { limit } = query;
    return this.guarded(() =>
      this.db
        .prepare<unknown[], string>(sql)
        .pluck()
        .all(tenant, ...own.params, limit, grant, tenant, ...shared.params, limit, limit)
        .map(decodeRecord),
    );
  }

  /**
   * A first page is asked for every job that succeeds (settle), and most
   * have no children: the parent index alone says so, where the join with
   * jobs costs several times as much even when it finds no edge.
   */
  async listChildren(jobId: string, limit: number, afterJobId?: string): Promise<JobRecord[]> {
    const { hasChildren, listChildren, listChildrenAfter } = this.statements;
    return this.guarded(() => {
      if (afterJobId === undefined) return hasChildren.get(jobId) === undefined ? [] : listChildren.all(jobId, limit).map(decodeRecord);
      return listChildrenAfter.all(jobId, afterJobId, limit).map(decodeRecord);
    });
  }

  /**
   * A walk over the lineage graph, refreshed in the same read transaction as
   * the rows a richer projection reads next; the ids view is answered from
   * the graph alone. On the graph's thread when it has one.
   */
  async lineage(query: LineageQuery): Promise<LineageRow[]> {
    if (this.graphThread) return this.graphThread.lineage(query);
    return this.guarded(() =>
      this.db.transaction((): LineageRow[] => {
        this.graph ??= new LineageGraph(this.db);
        this.lineageRows ??= new LineageRows(this.db);
        this.graph.refresh();
        return this.lineageRows.read(this.graph, query);
      })(),
    );
  }

  /** Built on the lineage graph (on its thread when it has one; undefined while that thread loads it). */
  async builtLineage(query: BuiltLineageQuery): Promise<BuiltLineage | undefined> {
    if (this.graphThread) return this.graphThread.builtLineage(query);
    const packed = this.guarded(() =>
      this.db.transaction((): PackedBuiltLineage => {
        this.graph ??= new LineageGraph(this.db);
        this.graph.refresh();
        return this.graph.built(query);
      })(),
    );
    return unpackBuiltLineage(packed);
  }

  /** A step over the lineage graph (on its thread when it has one). */
  async lineageStep(jobIds: readonly string[]): Promise<LineageStepRow[]> {
    if (this.graphThread) return this.graphThread.lineageStep(jobIds);
    return this.guarded(() =>
      this.db.transaction((): LineageStepRow[] => {
        this.graph ??= new LineageGraph(this.db);
        this.graph.refresh();
        return this.graph.step(jobIds);
      })(),
    );
  }

  /** A job that has no history entry (none was changed since its insert) is in the state of its document. */
  async statesAsOf(jobIds: readonly string[], asOf: Date): Promise<Map<string, JobState | null>> {
    const rows = this.guarded(() => this.statements.statesAsOf.all({ jobIds: JSON.stringify(jobIds), asOf: asOf.getTime() }));
    return new Map(
      rows.map(([jobId, state, unchanged]) => [
        jobId,
        state !== null ? decodeJobState(state) : unchanged !== null ? stateOf(decodeRecord(unchanged)) : null,
      ]),
    );
  }

  /**
   * The cycle inserting the record would close, if any. Only an id that some
   * stored job names as a parent can close one; then the cycle exists if the
   * id is among its parents' ancestors (a recursive query that stops at the
   * first match, and ends on cycles older data may hold). Its path, for the
   * refusal, comes from the id's descendants.
   */
  private cycleClosedBy(record: JobRecord, namedAsParent: boolean): string[] | undefined {
    const { jobId, parentIds } = record;
    if (parentIds.includes(jobId)) return [jobId, jobId];
    const { isAncestorOf, descendantRows } = this.statements;
    if (parentIds.length === 0 || !namedAsParent || !isAncestorOf.get(JSON.stringify(parentIds), jobId)) return undefined;
    const descendants = descendantRows.all(jobId).map(([id, parents]): LineageRow => ({ jobId: id, parentIds: JSON.parse(parents) as string[], tenant: '', readers: [] }));
    return findCycle(jobId, parentIds, descendants);
  }

  private insertEdges(childId: string, parentIds: readonly string[]): void {
    for (const parentId of parentIds) this.statements.insertEdge.run(childId, parentId);
  }

  private insertReaders(record: JobRecord): void {
    const createdAt = record.createdAt.getTime();
    for (const subject of record.readers) this.statements.insertReader.run(subject, createdAt, record.jobId);
  }

  /**
   * The jobs rows, in order, in multi-row INSERTs of up to
   * MAX_ROWS_PER_INSERT rows (of a power of two each, so that few statements
   * are prepared); the ids of the rows written (a row whose request id is
   * taken is not).
   */
  private insertRows(rows: readonly JobRow[]): Set<string> {
    const written = new Set<string>();
    for (let start = 0; start < rows.length; ) {
      const count = Math.min(MAX_ROWS_PER_INSERT, 2 ** Math.floor(Math.log2(rows.length - start)));
      const values: unknown[] = [];
      for (let i = start; i < start + count; i++) for (const field of JOB_FIELDS) values.push(rows[i]![field]);
      for (const jobId of this.rowsInsert(count).all(values)) written.add(jobId);
      start += count;
    }
    return written;
  }

  /** The INSERT of count jobs rows, prepared once per count. */
  private rowsInsert(count: number): Database.Statement<unknown[], string> {
    let statement = this.rowsInserts.get(count);
    if (!statement) {
      const row = `(${JOB_FIELDS.map(() => '?').join(', ')})`;
      // DO NOTHING without a target covers both the primary key and the request id index, and no other constraint.
      statement = this.db
        .prepare<unknown[], string>(
          `INSERT INTO jobs (${JOB_FIELDS.map((field) => COLUMN_OF[field]).join(', ')}) VALUES ${Array(count).fill(row).join(', ')}
           ON CONFLICT DO NOTHING RETURNING job_id`,
        )
        .pluck();
      this.rowsInserts.set(count, statement);
    }
    return statement;
  }

  /** The parent edges and reader grants of records just inserted: one statement each for them all. */
  private insertEdgesAndReaders(records: readonly JobRecord[]): void {
    const edges = records.flatMap((record) => record.parentIds.map((parentId) => [record.jobId, parentId]));
    if (edges.length > 0) this.statements.insertEdgesOf.run(JSON.stringify(edges));
    const grants = records.flatMap((record) => record.readers.map((subject) => [subject, record.createdAt.getTime(), record.jobId]));
    if (grants.length > 0) this.statements.insertReadersOf.run(JSON.stringify(grants));
  }

  /**
   * The outboxes of records just written that are not empty: an
   * outbox_writes row per OUTBOX_WRITE_RECORDS of them, and a job_outbox row
   * per record pointing into it.
   */
  private insertOutboxes(records: readonly JobRecord[]): void {
    const withEvents = records.filter((record) => (record.pendingEvents?.length ?? 0) > 0);
    const { insertOutboxWrite, insertJobOutboxes } = this.statements;
    for (let start = 0; start < withEvents.length; start += OUTBOX_WRITE_RECORDS) {
      const chunk = withEvents.slice(start, start + OUTBOX_WRITE_RECORDS);
      const writeId = insertOutboxWrite.get(encodeOutboxes(chunk.map((record) => record.pendingEvents!)))!;
      insertJobOutboxes.run({ writeId, rows: JSON.stringify(chunk.map((record) => [record.jobId, record.pendingEvents!.at(-1)!.seq])) });
    }
  }

  /** Of these outbox rows, which job_outbox rows pointed to, those no job_outbox row points to any more. */
  private deleteEmptyOutboxWrites(writeIds: readonly number[]): void {
    if (writeIds.length > 0) this.statements.deleteEmptyOutboxWrites.run(JSON.stringify([...new Set(writeIds)]));
  }

  private insertHistory(entry: JobHistoryEntry): void {
    this.statements.insertHistory.run({ jobId: entry.jobId, at: entry.at.getTime(), state: encodeJobState(entry.state) });
  }

  /** A write transaction; then the checkpoint thread is asked for a checkpoint if the WAL wants one. */
  private writing<T>(work: () => T): T {
    const result = this.guarded(work);
    this.checkpoints?.written();
    return result;
  }

  private guarded<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw unavailableOrAsIs(error);
    }
  }
}

/**
 * The filter and page position of a listJobs walk as SQL conditions (each
 * starting with AND) and their parameters. Times and job ids are read from
 * orderTable, the table the walk goes through in order, so that its index
 * bounds them; everything else from jobs.
 */
function listConditions(query: ListJobsQuery, orderTable: 'jobs' | 'shared'): { sql: string; params: unknown[] } {
  let sql = '';
  const params: unknown[] = [];
  const where = (condition: string, ...values: unknown[]): void => {
    sql += ` AND ${condition}`;
    params.push(...values);
  };
  const { filter } = query;
  if (filter.type !== undefined) where('jobs.type = ?', filter.type);
  if (filter.status !== undefined) where('jobs.status = ?', filter.status);
  if (filter.providerId !== undefined) where('jobs.provider_id = ?', filter.providerId);
  if (filter.providerModel !== undefined) where('jobs.provider_model = ?', filter.providerModel);
  if (filter.providerVersion !== undefined) where('jobs.provider_version = ?', filter.providerVersion);
  if (filter.definitionHash !== undefined) where('jobs.definition_hash = ?', filter.definitionHash);
  // json_each compares keys as they are; a JSON path would need quoting that cannot express every key.
  for (const [key, value] of Object.entries(filter.labels ?? {})) {
    where('EXISTS (SELECT 1 FROM json_each(jobs.labels) WHERE key = ? AND value = ?)', key, value);
  }
  const createdAt = `${orderTable}.created_at`;
  const range = filter.createdAt ?? {};
  if (range.gt) where(`${createdAt} > ?`, range.gt.getTime());
  if (range.gte) where(`${createdAt} >= ?`, range.gte.getTime());
  if (range.lt) where(`${createdAt} < ?`, range.lt.getTime());
  if (range.lte) where(`${createdAt} <= ?`, range.lte.getTime());
  if (query.after) where(`(${createdAt}, ${orderTable}.job_id) < (?, ?)`, query.after.createdAt.getTime(), query.after.jobId);
  return { sql, params };
}

function toJobRow(record: JobRecord): JobRow {
  return {
    jobId: record.jobId,
    tenant: record.tenant,
    requestId: record.requestId ?? null,
    type: record.type,
    status: record.status,
    cacheState: record.cacheState,
    definitionHash: record.definitionHash,
    inputHash: record.inputHash,
    providerId: record.provider.id,
    providerModel: record.provider.model,
    providerVersion: record.provider.version,
    createdAt: record.createdAt.getTime(),
    completedAt: record.completedAt?.getTime() ?? null,
    origin: record.origin,
    etag: record.etag,
    parentIds: JSON.stringify(record.parentIds),
    labels: JSON.stringify(record.labels),
    readers: JSON.stringify(record.readers),
    payloadRedacted: record.payloadRedacted ? 1 : 0,
    cacheSalt: cacheKeySalt(record),
    doc: encodeRecord(withoutOutbox(record)),
  };
}

/** The record as `doc` holds it: its pending events are rows of job_outbox; an empty outbox stays in the document. */
function withoutOutbox(record: JobRecord): JobRecord {
  if (record.pendingEvents === undefined || record.pendingEvents.length === 0) return record;
  const { pendingEvents: _inOutboxTable, ...rest } = record;
  return rest;
}

function prepareStatements(db: Database.Database) {
  const jobColumns =
    'job_id, tenant, request_id, type, status, cache_state, definition_hash, input_hash, provider_id, provider_model, provider_version, created_at, completed_at, origin, etag, parent_ids, labels, readers, payload_redacted, cache_salt, doc';
  const jobValues =
    '@jobId, @tenant, @requestId, @type, @status, @cacheState, @definitionHash, @inputHash, @providerId, @providerModel, @providerVersion, @createdAt, @completedAt, @origin, @etag, @parentIds, @labels, @readers, @payloadRedacted, @cacheSalt, @doc';
  return {
    ping: db.prepare('SELECT 1'),
    // Of a JSON array of ids: those that have a record, and those some stored job names as a parent.
    takenAmong: db.prepare<[string], string>('SELECT job_id FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))').pluck(),
    namedAmong: db
      .prepare<[string], string>('SELECT DISTINCT value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM job_parents WHERE parent_id = value)')
      .pluck(),
    // UNION (not UNION ALL) visits each id once, so the walk ends on a cycle; LIMIT 1 ends it at the first match.
    isAncestorOf: db
      .prepare<[parentIds: string, jobId: string], number>(
        `WITH RECURSIVE ancestors(id) AS (
           SELECT value FROM json_each(?)
           UNION SELECT edge.parent_id FROM ancestors JOIN job_parents AS edge ON edge.child_id = ancestors.id)
         SELECT 1 FROM ancestors WHERE id = ? LIMIT 1`,
      )
      .pluck(),
    descendantRows: db
      .prepare<[string], [jobId: string, parentIds: string]>(
        `WITH RECURSIVE descendants(id) AS (
           SELECT child_id FROM job_parents WHERE parent_id = ?
           UNION SELECT edge.child_id FROM descendants JOIN job_parents AS edge ON edge.parent_id = descendants.id)
         SELECT jobs.job_id, jobs.parent_ids FROM descendants JOIN jobs ON jobs.job_id = descendants.id`,
      )
      .raw(),
    // Of a JSON array of [childId, parentId]; WHERE true tells SQLite that ON CONFLICT belongs to the INSERT.
    insertEdgesOf: db.prepare<[string]>(
      'INSERT INTO job_parents (child_id, parent_id) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true ON CONFLICT DO NOTHING',
    ),
    // Of a JSON array of [subject, createdAt, jobId]; a subject named twice by one record is one row.
    insertReadersOf: db.prepare<[string]>(
      'INSERT INTO job_readers (subject, created_at, job_id) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true ON CONFLICT DO NOTHING',
    ),
    insertEdge: db.prepare<[string, string]>(
      'INSERT INTO job_parents (child_id, parent_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ),
    deleteEdges: db.prepare<[string]>('DELETE FROM job_parents WHERE child_id = ?'),
    // A subject named twice by one record is one row.
    insertReader: db.prepare<[string, number, string]>(
      'INSERT INTO job_readers (subject, created_at, job_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    // By job_readers' key, from the readers and creation time the row had: no index by job id needed.
    deleteReaders: db.prepare<{ jobId: string; readers: string; createdAt: number }>(
      `DELETE FROM job_readers
       WHERE subject IN (SELECT value FROM json_each(@readers)) AND created_at = @createdAt AND job_id = @jobId`,
    ),
    // The outbox row takes the next write_id: ids of deleted rows may come back, since no job_outbox row points to them.
    insertOutboxWrite: db.prepare<[events: string], number>('INSERT INTO outbox_writes (events) VALUES (jsonb(?)) RETURNING write_id').pluck(),
    // Of a JSON array of [jobId, lastSeq], in the order of the write row's entries.
    insertJobOutboxes: db.prepare<{ writeId: number; rows: string }>(
      `INSERT INTO job_outbox (job_id, write_id, entry, last_seq, after_seq)
       SELECT value ->> 0, @writeId, key, value ->> 1, 0 FROM json_each(@rows)`,
    ),
    // Of a JSON array of job ids; returns the outbox rows their rows pointed to.
    deleteOutboxes: db
      .prepare<[string], number>('DELETE FROM job_outbox WHERE job_id IN (SELECT value FROM json_each(?)) RETURNING write_id')
      .pluck(),
    deleteEmptyOutboxWrites: db.prepare<[string]>(
      `DELETE FROM outbox_writes WHERE write_id IN (SELECT value FROM json_each(?))
         AND NOT EXISTS (SELECT 1 FROM job_outbox WHERE job_outbox.write_id = outbox_writes.write_id)`,
    ),
    /*
     * The row a replacement compares with, if it still has the etag the
     * replacement expects; and for a job without a history entry, the state
     * keepFirstState would keep (insertFirstState writes it).
     */
    storedRow: db.prepare<[string, string], StoredRow & { firstState: string | null }>(
      `SELECT ${COMPARED_COLUMNS.map((field) => `${COLUMN_OF[field]} AS ${field}`).join(', ')},
         CASE WHEN NOT EXISTS (SELECT 1 FROM job_history WHERE job_history.job_id = jobs.job_id)
           THEN job_state_of(json_remove(doc, '$.payload', '$.result.output')) END AS firstState
       FROM jobs WHERE job_id = ? AND etag = ?`,
    ),
    insertFirstState: db.prepare<[jobId: string, createdAt: number, state: string]>('INSERT INTO job_history (job_id, at, seq, state) VALUES (?, ?, 1, ?)'),
    updateJob: db.prepare<JobRow>(`UPDATE jobs SET (${jobColumns}) = (${jobValues}) WHERE job_id = @jobId`),
    // json_set rewrites only the three members: every other byte of the document stays as encodeRecord wrote it.
    markStale: db
      .prepare<{ jobIds: string; etag: string; updatedAt: string }, string>(
        `UPDATE jobs SET cache_state = 'STALE', etag = @etag,
           doc = json_set(doc, '$.cacheState', 'STALE', '$.etag', @etag, '$.updatedAt', @updatedAt)
         WHERE job_id IN (SELECT value FROM json_each(@jobIds)) AND status = 'SUCCEEDED'
         RETURNING json_remove(doc, '$.payload', '$.result.output')`,
      )
      .pluck(),
    // seq orders the entries of one job and time as written (the write lock serializes them).
    insertHistory: db.prepare<{ jobId: string; at: number; state: string }>(
      `INSERT INTO job_history (job_id, at, seq, state)
       VALUES (@jobId, @at, (SELECT coalesce(max(seq), 0) + 1 FROM job_history WHERE job_id = @jobId AND at = @at), @state)`,
    ),
    /*
     * Per job, one backward probe of job_history's key from (job_id, asOf);
     * for a job that has no entry, its document (without payload and output,
     * which no state holds).
     */
    statesAsOf: db
      .prepare<{ jobIds: string; asOf: number }, [jobId: string, state: string | null, unchanged: string | null]>(
        `SELECT jobs.job_id,
           (SELECT state FROM job_history WHERE job_history.job_id = jobs.job_id AND job_history.at <= @asOf ORDER BY at DESC, seq DESC LIMIT 1),
           CASE WHEN NOT EXISTS (SELECT 1 FROM job_history WHERE job_history.job_id = jobs.job_id)
             THEN json_remove(jobs.doc, '$.payload', '$.result.output') END
         FROM jobs WHERE jobs.job_id IN (SELECT value FROM json_each(@jobIds)) AND jobs.created_at <= @asOf`,
      )
      .raw(),
    /*
     * Of a JSON array of ids, the jobs without a history entry (unchanged
     * since their insert) get one, at their creation, of the state their
     * document holds: run before a write changes them. job_state_of is
     * migrate's (schema.ts), on every connection the store opens.
     */
    keepFirstState: db.prepare<[string]>(
      `INSERT INTO job_history (job_id, at, seq, state)
       SELECT jobs.job_id, jobs.created_at, 1, job_state_of(json_remove(jobs.doc, '$.payload', '$.result.output'))
       FROM jobs WHERE jobs.job_id IN (SELECT value FROM json_each(?))
         AND NOT EXISTS (SELECT 1 FROM job_history WHERE job_history.job_id = jobs.job_id)`,
    ),
    /*
     * Of a JSON array of [jobId, etag, upToSeq]: a record whose etag has
     * changed keeps its outbox; one cleared up to its last event loses its
     * job_outbox row (returning the outbox row it pointed to); each
     * clearance reads its jobs row and its job_outbox row by key.
     */
    clearOutboxes: db
      .prepare<[string], number>(
        `DELETE FROM job_outbox WHERE job_id IN (
           SELECT job_outbox.job_id
           FROM json_each(?) AS clearance
           CROSS JOIN jobs ON jobs.job_id = clearance.value ->> 0 AND jobs.etag = clearance.value ->> 1
           CROSS JOIN job_outbox ON job_outbox.job_id = jobs.job_id AND job_outbox.last_seq <= clearance.value ->> 2)
         RETURNING write_id`,
      )
      .pluck(),
    /*
     * The rest (after clearOutboxes): the events with seq > upToSeq stay, in
     * order. An outbox that clearOutboxes emptied costs one probe of
     * job_outbox's key.
     */
    clearOutboxesPartly: db.prepare<[string]>(
      `UPDATE job_outbox SET after_seq = cleared.up_to
       FROM (
         SELECT clearance.value ->> 0 AS job_id, max(clearance.value ->> 2) AS up_to
         FROM json_each(?) AS clearance
         WHERE EXISTS (SELECT 1 FROM job_outbox WHERE job_outbox.job_id = clearance.value ->> 0)
           AND EXISTS (SELECT 1 FROM jobs WHERE jobs.job_id = clearance.value ->> 0 AND jobs.etag = clearance.value ->> 1)
         GROUP BY 1) AS cleared
       WHERE job_outbox.job_id = cleared.job_id AND job_outbox.after_seq < cleared.up_to`,
    ),
    /*
     * A page of job ids from job_outbox's key, in order (every one has its
     * jobs row: both are written in one transaction).
     */
    listWithPendingEvents: db
      .prepare<{ afterJobId: string; limit: number }, string>(
        `SELECT ${DOC_WITH_OUTBOX}
         FROM (SELECT job_id FROM job_outbox WHERE job_id > @afterJobId ORDER BY job_id LIMIT @limit) AS pending
         CROSS JOIN jobs ON jobs.job_id = pending.job_id ORDER BY pending.job_id`,
      )
      .pluck(),
    // A NULL completedAfter bounds nothing; a NULL completed_at is never newer than a bound.
    findReusableResult: db
      .prepare<
        { tenant: string; definitionHash: string; inputHash: string; cacheSalt: string; completedAfter: number | null; excludeJobId: string },
        string
      >(
        `SELECT ${DOC_WITH_OUTBOX} FROM jobs
         WHERE tenant = @tenant AND definition_hash = @definitionHash AND input_hash = @inputHash AND cache_salt = @cacheSalt
           AND status = 'SUCCEEDED' AND cache_state = 'FRESH' AND payload_redacted = 0 AND job_id <> @excludeJobId
           AND (@completedAfter IS NULL OR completed_at > @completedAfter)
         ORDER BY completed_at DESC, job_id DESC LIMIT 1`,
      )
      .pluck(),
    // The literal origin lets the planner use the partial index jobs_submitted_by_status.
    listSubmittedByStatus: db
      .prepare<{ statuses: string; afterJobId: string; limit: number }, string>(
        // Every job id is longer than '', which therefore starts at the beginning.
        `SELECT ${DOC_WITH_OUTBOX} FROM jobs
         WHERE origin = 'SUBMITTED' AND status IN (SELECT value FROM json_each(@statuses)) AND job_id > @afterJobId
         ORDER BY job_id LIMIT @limit`,
      )
      .pluck(),
    // Recorded jobs by status: no use case asks, so no index is kept for it; the table is read in key order.
    listByStatus: db
      .prepare<{ origin: JobOrigin; statuses: string; afterJobId: string; limit: number }, string>(
        `SELECT ${DOC_WITH_OUTBOX} FROM jobs
         WHERE origin = @origin AND status IN (SELECT value FROM json_each(@statuses)) AND job_id > @afterJobId
         ORDER BY job_id LIMIT @limit`,
      )
      .pluck(),
    getJob: db.prepare<[string], string>(`SELECT ${DOC_WITH_OUTBOX} FROM jobs WHERE job_id = ?`).pluck(),
    getJobs: db.prepare<[string], string>(`SELECT ${DOC_WITH_OUTBOX} FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))`).pluck(),
    getAccess: db.prepare<[string], AccessRow>('SELECT job_id, tenant, readers FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))').raw(),
    /** By count: the statement at index n - 1 takes n ids. */
    getAccessOf: Array.from({ length: KEY_LOOKUPS_UP_TO }, (_, i) =>
      db.prepare<string[], AccessRow>(`SELECT job_id, tenant, readers FROM jobs WHERE job_id IN (${Array(i + 1).fill('?').join(', ')})`).raw(),
    ),
    findByRequestIds: db
      .prepare<[string, string], string>(
        `SELECT ${DOC_WITH_OUTBOX} FROM jobs WHERE tenant = ? AND request_id IN (SELECT value FROM json_each(?))`,
      )
      .pluck(),
    findReferencedIds: db
      .prepare<[string], string>(
        'SELECT DISTINCT value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM job_parents WHERE parent_id = value)',
      )
      .pluck(),
    hasChildren: db.prepare<[string], number>('SELECT 1 FROM job_parents WHERE parent_id = ? LIMIT 1').pluck(),
    listChildren: db
      .prepare<[string, number], string>(
        `SELECT ${DOC_WITH_OUTBOX} FROM job_parents AS edge JOIN jobs ON jobs.job_id = edge.child_id
         WHERE edge.parent_id = ? ORDER BY edge.child_id LIMIT ?`,
      )
      .pluck(),
    listChildrenAfter: db
      .prepare<[string, string, number], string>(
        `SELECT ${DOC_WITH_OUTBOX} FROM job_parents AS edge JOIN jobs ON jobs.job_id = edge.child_id
         WHERE edge.parent_id = ? AND edge.child_id > ? ORDER BY edge.child_id LIMIT ?`,
      )
      .pluck(),
  };
}
