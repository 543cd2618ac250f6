import type Database from 'better-sqlite3';
import { encodeJobState, stateOf } from '../../domain/job-history.js';
import { decodeRecord } from './record-json.js';

/**
 * jobs: one row per record. `doc` holds the whole record (record-json.ts);
 * the other columns copy the fields that are filtered, ordered or walked on.
 * job_parents: the lineage edges, one row per (child, parent), including
 * parents that have no record (dangling references are allowed).
 * Frozen: databases of version 1 exist; changes go into a new migration.
 */
const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  request_id TEXT,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  cache_state TEXT NOT NULL,
  definition_hash TEXT NOT NULL,
  input_hash TEXT NOT NULL,
  provider_id TEXT NOT NULL,
  provider_model TEXT NOT NULL,
  provider_version TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  etag TEXT NOT NULL,
  parent_ids TEXT NOT NULL,
  labels TEXT NOT NULL,
  doc TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS jobs_by_request_id ON jobs (tenant, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_by_tenant_created ON jobs (tenant, created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_by_tenant_status_created ON jobs (tenant, status, created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_by_tenant_type_created ON jobs (tenant, type, created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_by_cache_key ON jobs (definition_hash, input_hash);

CREATE TABLE IF NOT EXISTS job_parents (
  child_id TEXT NOT NULL,
  parent_id TEXT NOT NULL,
  PRIMARY KEY (child_id, parent_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS job_parents_by_parent ON job_parents (parent_id, child_id);
`;

/**
 * Version 2, for job execution (issue #3): origin and completed_at become
 * columns, filled from `doc` for the rows already there. The cache lookup
 * (newest fresh result of a tenant's definition and input) reads one index
 * entry, and the worker's startup sweep (submitted jobs by status) reads
 * only the jobs it repairs. The cache key index now leads with the tenant,
 * as every query on the hashes does.
 */
const MIGRATION_V2 = `
ALTER TABLE jobs ADD COLUMN origin TEXT NOT NULL DEFAULT 'RECORDED';
ALTER TABLE jobs ADD COLUMN completed_at INTEGER;
UPDATE jobs SET origin = json_extract(doc, '$.origin'), completed_at = iso_to_millis(json_extract(doc, '$.completedAt'));
DROP INDEX jobs_by_cache_key;
CREATE INDEX jobs_by_cache_key ON jobs (tenant, definition_hash, input_hash, completed_at, job_id);
CREATE INDEX jobs_by_origin_status ON jobs (origin, status, job_id);
`;

/**
 * Version 3, for provenance events (issue #4): pending_event_count is the
 * length of the record's outbox (doc.pendingEvents), filled from `doc` for
 * the rows already there. Only the few records whose events are not yet in
 * the event log have a count above 0, so the relay's sweep over them reads a
 * small partial index instead of every row.
 */
const MIGRATION_V3 = `
ALTER TABLE jobs ADD COLUMN pending_event_count INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET pending_event_count = json_array_length(doc, '$.pendingEvents') WHERE json_array_length(doc, '$.pendingEvents') > 0;
CREATE INDEX jobs_with_pending_events ON jobs (job_id) WHERE pending_event_count > 0;
`;

/**
 * Version 4, for access control (issue #5), filled from `doc` for the rows
 * already there. readers (JSON array, like parent_ids) lets lineage rows say
 * who may read each job without parsing documents, and tells a replacement
 * whether job_readers must be rewritten. job_readers holds one row per
 * (reader subject, job), with the job's created_at, so that the records
 * shared with a subject are walked newest first from an index, as a
 * tenant's records are through jobs_by_tenant_created: a page of ListJobs
 * merges two ordered walks and reads about a page of each. job_id is
 * indexed for the rewrite. payload_redacted keeps results computed from a
 * redacted payload out of the cache lookup without reading the document.
 */
const MIGRATION_V4 = `
ALTER TABLE jobs ADD COLUMN readers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN payload_redacted INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET readers = json_extract(doc, '$.readers') WHERE json_array_length(doc, '$.readers') > 0;
UPDATE jobs SET payload_redacted = 1 WHERE json_extract(doc, '$.payloadRedacted');
CREATE TABLE job_readers (
  subject TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  job_id TEXT NOT NULL,
  PRIMARY KEY (subject, created_at, job_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX job_readers_by_job ON job_readers (job_id);
INSERT OR IGNORE INTO job_readers (subject, created_at, job_id)
  SELECT reader.value, jobs.created_at, jobs.job_id FROM jobs, json_each(jobs.readers) AS reader;
`;

/** How many of the latest lineage changes are kept: a process that has applied fewer than these reloads its graph whole. */
export const LINEAGE_CHANGES_KEPT = 100_000;

/**
 * Version 5, for the in-memory lineage graph (lineage-graph.ts): every
 * insert or delete of a job, and every change of its parents, tenant or
 * readers, gets a number in lineage_changes (AUTOINCREMENT: numbers are
 * never reused, even after the table was emptied), from whichever
 * connection writes. Every thousandth change trims what is older than the
 * latest LINEAGE_CHANGES_KEPT.
 */
const MIGRATION_V5 = `
CREATE TABLE lineage_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL
);
CREATE TRIGGER lineage_change_on_insert AFTER INSERT ON jobs
BEGIN
  INSERT INTO lineage_changes (job_id) VALUES (NEW.job_id);
END;
CREATE TRIGGER lineage_change_on_update AFTER UPDATE OF parent_ids, tenant, readers ON jobs
WHEN OLD.parent_ids IS NOT NEW.parent_ids OR OLD.tenant IS NOT NEW.tenant OR OLD.readers IS NOT NEW.readers
BEGIN
  INSERT INTO lineage_changes (job_id) VALUES (NEW.job_id);
END;
CREATE TRIGGER lineage_change_on_delete AFTER DELETE ON jobs
BEGIN
  INSERT INTO lineage_changes (job_id) VALUES (OLD.job_id);
END;
CREATE TRIGGER lineage_changes_trim AFTER INSERT ON lineage_changes WHEN NEW.seq % 1000 = 0
BEGIN
  DELETE FROM lineage_changes WHERE seq <= NEW.seq - ${LINEAGE_CHANGES_KEPT};
END;
`;

/**
 * Version 6, a lighter write path (issue #15 item 1, issue #18 item 6): the
 * outbox leaves the documents for a table of its own, so that clearing it
 * deletes small rows instead of rewriting every job row a second time (which
 * left most pages of jobs three quarters empty). job_outbox holds one row
 * per pending event, its JSON as the event log receives it, in the same
 * transaction as the record; a record's `doc` holds no pendingEvents but an
 * empty outbox, which is kept as written. The events of the rows already
 * there move into it, and the partial index on pending_event_count goes:
 * the relay sweep walks job_outbox's key. The column itself stays, 0 (its
 * default) in every row written since: dropping it would rewrite every row
 * of the table at the first start (about 5 s per 100,000 jobs on a busy
 * 2-core machine), to save one byte a row.
 *
 * The indexes left, each with the query that reads it
 * (sqlite-provenance-store.ts; plans checked with EXPLAIN QUERY PLAN, see
 * docs/decisions.md, "Stores"):
 * - jobs primary key (job_id): every read and write by id.
 * - jobs_by_request_id: the unique (tenant, request id) constraint, and
 *   findByRequestIds.
 * - jobs_by_tenant_created: listJobs, a tenant's records newest first.
 * - jobs_by_tenant_status_created, jobs_by_tenant_type_created: listJobs
 *   filtered by status or by type.
 * - jobs_by_cache_key: findReusableResult (with cache_salt since version 7).
 * - jobs_submitted_by_status (replacing jobs_by_origin_status):
 *   listByStatus of submitted jobs, the repair sweep. Partial: recorded
 *   jobs, most of a store, have no entry; nothing asks for them by status.
 * - job_parents primary key (child_id, parent_id): the ancestor walks, and
 *   rewriting a child's edges; job_parents_by_parent: listChildren, the
 *   cycle check, findReferencedIds.
 * - job_readers primary key (subject, created_at, job_id): listJobs of the
 *   records shared with a grant, and the rewrite of a record's readers,
 *   which deletes them by the key it read (job_readers_by_job goes).
 * - job_outbox primary key (job_id, seq): a record's pending events, their
 *   clearance, and the relay sweep.
 */
const MIGRATION_V6 = `
CREATE TABLE job_outbox (
  job_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO job_outbox (job_id, seq, event)
  SELECT jobs.job_id, pending.value ->> 'seq', json(pending.value)
  FROM jobs, json_each(jobs.doc, '$.pendingEvents') AS pending WHERE jobs.pending_event_count > 0;
UPDATE jobs SET doc = json_remove(doc, '$.pendingEvents'), pending_event_count = 0 WHERE pending_event_count > 0;
DROP INDEX jobs_with_pending_events;
DROP INDEX jobs_by_origin_status;
CREATE INDEX jobs_submitted_by_status ON jobs (status, job_id) WHERE origin = 'SUBMITTED';
DROP INDEX job_readers_by_job;
`;

/**
 * Version 7, cache salts (issue #16 item 5, domain/cache-salt.ts): cache_salt
 * holds the record's cacheKeySalt, '' for a record without salts (every
 * record written before, whose documents hold none: nothing to backfill),
 * and findReusableResult matches it exactly. It joins the cache key index
 * before completed_at, so that the newest result under one salt is still the
 * first entry of its range.
 */
const MIGRATION_V7 = `
ALTER TABLE jobs ADD COLUMN cache_salt TEXT NOT NULL DEFAULT '';
DROP INDEX jobs_by_cache_key;
CREATE INDEX jobs_by_cache_key ON jobs (tenant, definition_hash, input_hash, cache_salt, completed_at, job_id);
`;

/**
 * Version 8, history (issue #16 item 1, domain/job-history.ts): every write
 * of a record appends its new state, at the write's time, in the write's
 * transaction; the as-of reads take, per job, the latest entry at or before
 * their time through the primary key (job_id, at, seq), seq ordering the
 * entries of one time as written. Nothing else reads it. Rows written
 * before get one entry, at their creation, of the state they have now:
 * their earlier states were never kept (docs/decisions.md, "As of a time").
 * The payload and output, which no state holds and which may be large, are
 * left out before the document is parsed.
 */
const MIGRATION_V8 = `
CREATE TABLE job_history (
  job_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (job_id, at, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO job_history (job_id, at, seq, state)
  SELECT job_id, created_at, 1, job_state_of(json_remove(doc, '$.payload', '$.result.output')) FROM jobs;
`;

/**
 * How many records' outboxes one outbox_writes row holds at most; a write of
 * more records writes several rows. Reading a record's pending events loads
 * its whole row (SQLite reads a value whole), so this bounds that read at
 * about 32 records' outboxes (some 13 KB for recorded finished jobs).
 */
export const OUTBOX_WRITE_RECORDS = 32;

/**
 * Version 9, a compact outbox (issue #15 item 1, issue #18 item 6): one row
 * of outbox_writes per write that has events (per OUTBOX_WRITE_RECORDS of
 * its records), instead of one job_outbox row per event. Its `events`
 * (JSONB) is an array with one entry per record, that record's whole outbox
 * as its write carried it
 * (outbox-json.ts: an event that differs from the one before only in seq
 * and type is written as [seq, type]); encoded once, appended at the end of
 * its table's key, and deleted as one row. job_outbox keeps one small row
 * per record whose outbox is not empty: where its entry is (write_id,
 * entry), its last seq (a clearance up to it empties the outbox) and
 * after_seq (the events up to it were cleared by a partial clearance, rare:
 * the relay clears whole outboxes). A write of a record replaces its
 * job_outbox row; the write row goes once no job_outbox row points to it
 * (job_outbox_by_write). The pending events of a version 8 database move
 * into write rows of OUTBOX_WRITE_RECORDS records each, in job id order,
 * every event as it was.
 */
const MIGRATION_V9 = `
ALTER TABLE job_outbox RENAME TO job_outbox_v8;
CREATE TABLE outbox_writes (
  write_id INTEGER PRIMARY KEY,
  events BLOB NOT NULL
) STRICT;
CREATE TABLE job_outbox (
  job_id TEXT PRIMARY KEY NOT NULL,
  write_id INTEGER NOT NULL,
  entry INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  after_seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX job_outbox_by_write ON job_outbox (write_id);
CREATE TEMP TABLE moved_outboxes AS
  SELECT job_id, (row_number() OVER (ORDER BY job_id) - 1) AS position, json_group_array(json(event) ORDER BY seq) AS events, max(seq) AS last_seq
  FROM job_outbox_v8 GROUP BY job_id;
INSERT INTO job_outbox (job_id, write_id, entry, last_seq, after_seq)
  SELECT job_id, position / ${OUTBOX_WRITE_RECORDS} + 1, position % ${OUTBOX_WRITE_RECORDS}, last_seq, 0 FROM moved_outboxes;
INSERT INTO outbox_writes (write_id, events)
  SELECT position / ${OUTBOX_WRITE_RECORDS} + 1, jsonb_group_array(json(events) ORDER BY position) FROM moved_outboxes GROUP BY position / ${OUTBOX_WRITE_RECORDS};
DROP TABLE moved_outboxes;
DROP TABLE job_outbox_v8;
`;

/** Migration i takes a database from version i to version i + 1; a new database runs them all. */
const MIGRATIONS = [SCHEMA_V1, MIGRATION_V2, MIGRATION_V3, MIGRATION_V4, MIGRATION_V5, MIGRATION_V6, MIGRATION_V7, MIGRATION_V8, MIGRATION_V9];

/** Bumped by every migration; stored in PRAGMA user_version. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema to SCHEMA_VERSION, or refuses a database made by a newer build. */
export function migrate(db: Database.Database): void {
  // The same conversion as the rows written since (Date.getTime() of the record's Date).
  db.function('iso_to_millis', { deterministic: true, directOnly: true }, (iso: string | null) =>
    iso === null ? null : Date.parse(iso),
  );
  db.function('job_state_of', { deterministic: true, directOnly: true }, (doc: string) => encodeJobState(stateOf(decodeRecord(doc))));
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`database schema version ${version} is newer than this build supports (${SCHEMA_VERSION})`);
    }
    for (const migration of MIGRATIONS.slice(version)) db.exec(migration);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
