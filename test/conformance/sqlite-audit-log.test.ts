import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { ProvenanceError } from '../../src/domain/errors.js';
import { SqliteAuditLog } from '../../src/adapters/sqlite/sqlite-audit-log.js';
import { SqliteProvenanceStore } from '../../src/adapters/sqlite/sqlite-provenance-store.js';
import { makeJob, nextJobId } from '../support/job-records.js';
import { runAuditLogConformance } from './audit-log.js';

// Files rather than ':memory:': the audit log shares the records' file, through a connection of its own.
const directory = mkdtempSync(join(tmpdir(), 'provenance-sqlite-audit-'));
let files = 0;
const newPath = () => join(directory, `log-${++files}`, 'provenance.sqlite');
// The suites below open files there after the conformance suite disposed of it.
after(() => rmSync(directory, { recursive: true, force: true }));

runAuditLogConformance({
  name: 'SQLite',
  async create() {
    return SqliteAuditLog.open({ path: newPath() });
  },
  async createBreakable() {
    const log = SqliteAuditLog.open({ path: newPath() });
    // A closed connection is a database the log can no longer use.
    return { log, breakDatabase: () => log.close() };
  },
  async dispose() {
    rmSync(directory, { recursive: true, force: true });
  },
});

// As the server runs it: on the store's connection, which the log leaves open when it closes.
runAuditLogConformance({
  name: "SQLite, on the store's connection",
  async create() {
    const store = SqliteProvenanceStore.open({ path: newPath(), lineageGraph: 'on-demand' });
    const log = store.auditLog();
    return {
      append: (entry) => log.append(entry),
      list: (query) => log.list(query),
      async close() {
        await log.close();
        await store.close();
      },
    };
  },
  async createBreakable() {
    const store = SqliteProvenanceStore.open({ path: newPath(), lineageGraph: 'on-demand' });
    const log = store.auditLog();
    // The store's connection closed is a database the log can no longer use.
    return { log, breakDatabase: () => store.close() };
  },
  async dispose() {
    rmSync(directory, { recursive: true, force: true });
  },
});

describe('SqliteAuditLog on the records file', function () {
  const entry = (tenant: string) => ({
    subject: 'alice',
    tenant,
    method: '/provenance.v1.ProvenanceService/GetJob',
    jobIds: ['job-a'],
    time: new Date(Date.UTC(2026, 1, 3, 4, 5, 6, 7)),
    outcome: 'OK',
  });

  it('works beside the provenance store on one file, opened in either order, and keeps entries across reopening', async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    const record = makeJob({ tenant });
    const logFirst = SqliteAuditLog.open({ path });
    const store = SqliteProvenanceStore.open({ path });
    try {
      await logFirst.append(entry(tenant));
      expect(await store.insertJobs([record])).to.deep.equal([{ inserted: true }]);
    } finally {
      await logFirst.close();
      await store.close();
    }

    const reopenedStore = SqliteProvenanceStore.open({ path });
    const reopenedLog = SqliteAuditLog.open({ path });
    try {
      expect(await reopenedStore.getJobs([record.jobId])).to.deep.equal([record]);
      await reopenedLog.append({ ...entry(tenant), method: '/provenance.v1.ProvenanceService/ListJobs' });
      const listed = await reopenedLog.list({ tenant, limit: 10 });
      expect(listed.map((item) => [item.id, item.method])).to.deep.equal([
        ['2', '/provenance.v1.ProvenanceService/ListJobs'],
        ['1', '/provenance.v1.ProvenanceService/GetJob'],
      ]);
    } finally {
      await reopenedStore.close();
      await reopenedLog.close();
    }
  });

  it("on the store's connection, leaves it open when it closes, and its entries beside the store's records", async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    const record = makeJob({ tenant });
    const store = SqliteProvenanceStore.open({ path, lineageGraph: 'on-demand' });
    try {
      const log = store.auditLog();
      await log.append(entry(tenant));
      expect(await store.insertJobs([record])).to.deep.equal([{ inserted: true }]);
      await log.close();
      expect(await store.getJobs([record.jobId])).to.deep.equal([record]);
    } finally {
      await store.close();
    }
    const reopened = SqliteAuditLog.open({ path });
    try {
      expect((await reopened.list({ tenant, limit: 10 })).map((item) => item.method)).to.deep.equal(['/provenance.v1.ProvenanceService/GetJob']);
    } finally {
      await reopened.close();
    }
  });

  it('fails an append UNAVAILABLE while another connection holds the write lock past busyTimeoutMs, and still reads', async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    const log = SqliteAuditLog.open({ path, busyTimeoutMs: 50 });
    const writer = new Database(path);
    try {
      await log.append(entry(tenant));
      writer.exec('BEGIN IMMEDIATE');
      const error = await log.append(entry(tenant)).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).to.be.instanceOf(ProvenanceError);
      expect((error as ProvenanceError).code).to.equal('UNAVAILABLE');
      expect(await log.list({ tenant, limit: 10 })).to.have.length(1);
      writer.exec('ROLLBACK');
      await log.append(entry(tenant));
      expect(await log.list({ tenant, limit: 10 })).to.have.length(2);
    } finally {
      writer.close();
      await log.close();
    }
  });

  it("adds the caller's tenant to a trail written before it, keeping the entries there", async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    mkdirSync(dirname(path), { recursive: true });
    const before = new Database(path);
    before.exec(`
      CREATE TABLE audit_events (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, subject TEXT NOT NULL, method TEXT NOT NULL,
        time INTEGER NOT NULL, outcome TEXT NOT NULL, job_ids TEXT NOT NULL) STRICT;
      CREATE TABLE audit_event_jobs (tenant TEXT NOT NULL, job_id TEXT NOT NULL, time INTEGER NOT NULL, audit_id INTEGER NOT NULL REFERENCES audit_events (id),
        PRIMARY KEY (tenant, job_id, time DESC, audit_id DESC)) STRICT, WITHOUT ROWID;`);
    const old = entry(tenant);
    before
      .prepare('INSERT INTO audit_events (tenant, subject, method, time, outcome, job_ids) VALUES (?, ?, ?, ?, ?, ?)')
      .run(old.tenant, old.subject, old.method, old.time.getTime(), old.outcome, JSON.stringify(old.jobIds));
    before.close();

    const log = SqliteAuditLog.open({ path });
    try {
      const copy = { ...entry(tenant), subject: '', callerTenant: nextJobId('tenant'), time: new Date(old.time.getTime() + 1) };
      await log.append(copy);
      expect((await log.list({ tenant, limit: 10 })).map(({ id: _id, ...rest }) => rest)).to.deep.equal([copy, old]);
    } finally {
      await log.close();
    }
    // Opening it again finds the column there.
    await SqliteAuditLog.open({ path }).close();
  });

  it('refuses a position whose id this store cannot have made, as a bad page token', async () => {
    const log = SqliteAuditLog.open({ path: newPath() });
    try {
      for (const id of ['abc', '0', '-1', '1.5', '01', '9223372036854775808', '']) {
        const error = await log.list({ tenant: 't', limit: 10, after: { time: new Date(), id } }).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error, id).to.be.instanceOf(ProvenanceError);
        expect((error as ProvenanceError).code, id).to.equal('INVALID_ARGUMENT');
        expect((error as ProvenanceError).details.fieldViolations?.[0]?.field, id).to.equal('page_token');
      }
      expect(await log.list({ tenant: 't', limit: 10, after: { time: new Date(), id: '9223372036854775807' } })).to.deep.equal([]);
    } finally {
      await log.close();
    }
  });
});
