import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { invalidArgument } from '../../domain/errors.js';
import type { AuditEntry, AuditLog, AuditQuery, StoredAuditEntry } from '../../domain/ports/audit-log.js';
import { unavailableOrAsIs } from './sqlite-errors.js';

const MEMORY_PATH = ':memory:';
const MAX_ROWID = 2n ** 63n - 1n;

/**
 * audit_events: one row per entry; the rowid is the entry's id (AUTOINCREMENT,
 * so ids only grow, even after old entries are deleted). job_ids holds the
 * entry's list as given (JSON); caller_tenant is NULL unless the caller is
 * of another tenant than the trail's (added to tables made before it).
 * audit_event_jobs: one row per distinct job of an entry, with the entry's
 * tenant and time copied, so that a job's entries are read newest first
 * straight from its primary key instead of being gathered and sorted.
 * Kept out of the jobs schema's versioned migrations: these tables are new
 * and only ever created, so CREATE ... IF NOT EXISTS is all they need.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  subject TEXT NOT NULL,
  method TEXT NOT NULL,
  time INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  job_ids TEXT NOT NULL,
  caller_tenant TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS audit_events_by_tenant_time ON audit_events (tenant, time DESC, id DESC);
CREATE INDEX IF NOT EXISTS audit_events_by_tenant_subject_time ON audit_events (tenant, subject, time DESC, id DESC);

CREATE TABLE IF NOT EXISTS audit_event_jobs (
  tenant TEXT NOT NULL,
  job_id TEXT NOT NULL,
  time INTEGER NOT NULL,
  audit_id INTEGER NOT NULL REFERENCES audit_events (id),
  PRIMARY KEY (tenant, job_id, time DESC, audit_id DESC)
) STRICT, WITHOUT ROWID;
`;

interface AuditRow {
  id: number;
  tenant: string;
  subject: string;
  method: string;
  time: number;
  outcome: string;
  job_ids: string;
  caller_tenant: string | null;
}

/** An audit_events row as inserted, its columns in the INSERT's order (the id is the table's). */
type InsertedRow = [tenant: string, subject: string, method: string, time: number, outcome: string, jobIds: string, callerTenant: string | null];

const EVENT_COLUMNS = 'e.id, e.tenant, e.subject, e.method, e.time, e.outcome, e.job_ids, e.caller_tenant';

/** The most entries one transaction writes; more appended in one turn of the event loop commit in several. */
const MAX_ENTRIES_PER_COMMIT = 512;

interface PendingAppend {
  entry: AuditEntry;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * AuditLog on the SQLite file of the records: in the server, on the store's
 * connection (onConnection), so that its commits leave that connection's
 * page cache warm; a connection of its own drops the other's cache at every
 * commit, and each GetJob then read its pages again (docs/decisions.md,
 * "The audit trail on the store's connection").
 *
 * Group commit: the entries appended during one turn of the event loop are
 * written in one transaction right after it (setImmediate), and each append
 * resolves only once that transaction has committed, so an entry is still
 * stored before its call is answered, and a crash loses only entries of
 * calls not answered yet. A commit per entry cost as much as the rest of a
 * GetJob call.
 */
export class SqliteAuditLog implements AuditLog {
  private readonly insertEvent: Database.Statement<InsertedRow>;
  private readonly insertEventJobs: Database.Statement<[number | bigint, number | bigint]>;
  /** Made once: better-sqlite3 builds a wrapper function of its variants at each db.transaction(). */
  private readonly insertBatch: Database.Transaction<(batch: readonly PendingAppend[]) => void>;
  private pending: PendingAppend[] = [];
  private commitScheduled = false;

  private constructor(
    private readonly db: Database.Database,
    /** Whether close() closes the connection: not when it is the store's. */
    private readonly ownsConnection: boolean,
  ) {
    // Parameters by position: better-sqlite3 binds named ones by looking each name up in an object, on every entry.
    this.insertEvent = db.prepare(
      `INSERT INTO audit_events (tenant, subject, method, time, outcome, job_ids, caller_tenant) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    // OR IGNORE: a job named twice in one entry is one row, so the job filter returns the entry once.
    // One statement for the entries of a batch, by the range of their ids: the batch's transaction holds the write lock,
    // so the ids its inserts were given are consecutive and no other entry falls between them.
    this.insertEventJobs = db.prepare(
      `INSERT OR IGNORE INTO audit_event_jobs (tenant, job_id, time, audit_id)
       SELECT e.tenant, j.value, e.time, e.id FROM audit_events e, json_each(e.job_ids) j WHERE e.id BETWEEN ? AND ?`,
    );
    this.insertBatch = db.transaction((batch: readonly PendingAppend[]) => {
      let first: number | bigint | undefined;
      let last: number | bigint | undefined;
      for (const { entry } of batch) {
        const { lastInsertRowid } = this.insertEvent.run(
          entry.tenant,
          entry.subject,
          entry.method,
          entry.time.getTime(),
          entry.outcome,
          JSON.stringify(entry.jobIds),
          entry.callerTenant ?? null,
        );
        first ??= lastInsertRowid;
        last = lastInsertRowid;
      }
      if (first !== undefined && last !== undefined) this.insertEventJobs.run(first, last);
    });
  }

  /**
   * Opens (creating if needed) the database at path, normally the file of
   * SqliteProvenanceStore, and creates the audit tables if missing. A call
   * waits busyTimeoutMs for a lock held by another connection before it
   * fails UNAVAILABLE.
   */
  static open(options: { path: string; busyTimeoutMs?: number }): SqliteAuditLog {
    let db: Database.Database | undefined;
    try {
      if (options.path !== MEMORY_PATH) mkdirSync(dirname(options.path), { recursive: true });
      const opened = (db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 }));
      opened.pragma('journal_mode = WAL');
      opened.pragma('synchronous = NORMAL');
      createTables(opened);
      return new SqliteAuditLog(opened, true);
    } catch (error) {
      db?.close();
      throw unavailableOrAsIs(error);
    }
  }

  /** On a connection already open (the store's: SqliteProvenanceStore.auditLog), which close() leaves open; creates the audit tables if missing. */
  static onConnection(db: Database.Database): SqliteAuditLog {
    try {
      createTables(db);
      return new SqliteAuditLog(db, false);
    } catch (error) {
      throw unavailableOrAsIs(error);
    }
  }

  /** Commits what is pending; closes the connection if it is its own. */
  async close(): Promise<void> {
    this.commitPending();
    if (this.ownsConnection && this.db.open) this.db.close();
  }

  /** Resolves once the entry is committed, together with the others appended in the same turn of the event loop. */
  append(entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (this.pending.length >= MAX_ENTRIES_PER_COMMIT) {
        this.commitPending();
      } else if (!this.commitScheduled) {
        this.commitScheduled = true;
        setImmediate(() => this.commitPending());
      }
    });
  }

  /** Writes every pending entry in one transaction, in the order appended; all fail together if it does (UNAVAILABLE when the database is). */
  private commitPending(): void {
    this.commitScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    try {
      this.guarded(() => this.insertBatch.immediate(batch));
    } catch (error) {
      for (const { reject } of batch) reject(error);
      return;
    }
    for (const { resolve } of batch) resolve();
  }

  async list(query: AuditQuery): Promise<StoredAuditEntry[]> {
    // A job's entries are read from audit_event_jobs, in its key order; all others from audit_events.
    const byJob = query.jobId !== undefined;
    const time = byJob ? 'j.time' : 'e.time';
    const id = byJob ? 'j.audit_id' : 'e.id';
    const conditions: string[] = [];
    const params: unknown[] = [];
    const where = (condition: string, ...values: unknown[]): void => {
      conditions.push(condition);
      params.push(...values);
    };
    if (byJob) {
      where('j.tenant = ?', query.tenant);
      where('j.job_id = ?', query.jobId);
    } else {
      where('e.tenant = ?', query.tenant);
    }
    if (query.subject !== undefined) where('e.subject = ?', query.subject);
    const range = query.time ?? {};
    if (range.gt) where(`${time} > ?`, range.gt.getTime());
    if (range.gte) where(`${time} >= ?`, range.gte.getTime());
    if (range.lt) where(`${time} < ?`, range.lt.getTime());
    if (range.lte) where(`${time} <= ?`, range.lte.getTime());
    if (query.after) where(`(${time}, ${id}) < (?, ?)`, query.after.time.getTime(), rowId(query.after.id));
    const from = byJob ? 'audit_event_jobs j JOIN audit_events e ON e.id = j.audit_id' : 'audit_events e';
    const sql = `SELECT ${EVENT_COLUMNS} FROM ${from} WHERE ${conditions.join(' AND ')} ORDER BY ${time} DESC, ${id} DESC LIMIT ?`;
    return this.guarded(() =>
      this.db
        .prepare<unknown[], AuditRow>(sql)
        .all(...params, query.limit)
        .map(toStoredEntry),
    );
  }

  private guarded<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw unavailableOrAsIs(error);
    }
  }
}

function createTables(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('audit_events')").all();
    if (!columns.some((column) => column.name === 'caller_tenant')) db.exec('ALTER TABLE audit_events ADD COLUMN caller_tenant TEXT');
  }).immediate();
}

/** The rowid an id of this store stands for; ids are compared as numbers, not as strings ("9" < "10"). */
function rowId(id: string): bigint {
  if (!/^[1-9][0-9]{0,18}$/.test(id) || BigInt(id) > MAX_ROWID) {
    throw invalidArgument([{ field: 'page_token', description: 'is not a page token this service issued' }]);
  }
  return BigInt(id);
}

function toStoredEntry(row: AuditRow): StoredAuditEntry {
  return {
    id: String(row.id),
    subject: row.subject,
    tenant: row.tenant,
    ...(row.caller_tenant === null ? {} : { callerTenant: row.caller_tenant }),
    method: row.method,
    jobIds: JSON.parse(row.job_ids) as string[],
    time: new Date(row.time),
    outcome: row.outcome,
  };
}
