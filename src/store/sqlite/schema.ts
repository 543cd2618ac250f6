import type Database from 'better-sqlite3';

/** Bumped by every migration; stored in PRAGMA user_version. */
export const SCHEMA_VERSION = 1;

/**
 * jobs: one row per record. `doc` holds the whole record (record-json.ts);
 * the other columns copy the fields that are filtered, ordered or walked on.
 * job_parents: the lineage edges, one row per (child, parent), including
 * parents that have no record (dangling references are allowed).
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

/** Creates the schema, or checks that an existing database is one this code can use. */
export function migrate(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`database schema version ${version} is newer than this build supports (${SCHEMA_VERSION})`);
    }
    db.exec(SCHEMA_V1);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
