import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MemoryEventLog } from '../../src/adapters/memory/memory-event-log.js';
import { eventJson, withEvents, type ProvenanceEvent } from '../../src/domain/job-events.js';
import { cacheKeySalt } from '../../src/domain/cache-salt.js';
import { compareCodeUnits } from '../../src/domain/hashing.js';
import { encodeJobState, stateOf } from '../../src/domain/job-history.js';
import type { JobRecord } from '../../src/domain/job.js';
import type { ProvenanceStore } from '../../src/domain/ports/provenance-store.js';
import { NO_METRICS } from '../../src/domain/ports/metrics.js';
import { encodeRecord } from '../../src/adapters/sqlite/record-json.js';
import { OUTBOX_WRITE_RECORDS, SCHEMA_VERSION } from '../../src/adapters/sqlite/schema.js';
import { SqliteProvenanceStore } from '../../src/adapters/sqlite/sqlite-provenance-store.js';
import { CHECKPOINT_PAGES, FALLBACK_AUTOCHECKPOINT_PAGES, walState } from '../../src/adapters/sqlite/wal-checkpoint-thread.js';
import { EventRelay } from '../../src/service/event-stream/event-relay.js';
import { makeJob, nextJobId } from '../support/job-records.js';
import { until } from '../support/waits.js';
import { runProvenanceStoreConformance } from './provenance-store/index.js';

// Files rather than ':memory:', so that the suite runs on what production runs: WAL journal, real I/O.
const directory = mkdtempSync(join(tmpdir(), 'provenance-sqlite-conformance-'));
let opened = 0;

const paths = new WeakMap<ProvenanceStore, string>();

function openStore(path = join(directory, `store-${++opened}`, 'provenance.sqlite')): SqliteProvenanceStore {
  const store = SqliteProvenanceStore.open({ path });
  paths.set(store, path);
  return store;
}

runProvenanceStoreConformance({
  name: 'SQLite',
  async create() {
    return openStore();
  },
  async openTwin(store) {
    return openStore(paths.get(store)!);
  },
  async createBreakable() {
    const store = openStore();
    // A closed connection is a database the store can no longer use.
    return { store, breakDatabase: () => store.close() };
  },
  async dispose() {
    rmSync(directory, { recursive: true, force: true });
  },
});

describe('SQLite schema migration', function () {
  let migrationDirectory: string;
  let files = 0;
  const newPath = () => join(migrationDirectory, `db-${++files}.sqlite`);

  /** The version and schema of a new database's. */
  async function expectCurrentSchema(path: string): Promise<void> {
    expect(schemaVersion(path)).to.equal(SCHEMA_VERSION);
    const fresh = newPath();
    await SqliteProvenanceStore.open({ path: fresh }).close();
    expect(schemaOf(path)).to.deep.equal(schemaOf(fresh));
  }

  before(() => {
    migrationDirectory = mkdtempSync(join(tmpdir(), 'provenance-sqlite-migration-'));
  });

  after(() => {
    rmSync(migrationDirectory, { recursive: true, force: true });
  });

  it('brings a database of issue #2 (schema version 1) to the current version, records, edges and new queries working', async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    const t0 = Date.UTC(2024, 9, 1, 8, 0, 0, 0);
    const at = (offsetMs: number) => new Date(t0 + offsetMs);
    const parent = makeJob({ tenant });
    const hashes = { tenant, definitionHash: parent.definitionHash, inputHash: parent.inputHash, parentIds: [parent.jobId] };
    // Completion order is the reverse of job id order, so that completed_at left empty would pick the wrong one.
    const olderResult = makeJob({ ...hashes, jobId: nextJobId('z-older'), completedAt: at(1000) });
    const newerResult = makeJob({ ...hashes, jobId: nextJobId('a-newer'), completedAt: at(2000) });
    const running = makeJob({ tenant, origin: 'SUBMITTED', status: 'RUNNING', parentIds: [parent.jobId], readers: ['auditor@example.test'] });
    const records = [parent, olderResult, newerResult, running];
    writeIssue2Database(path, records);

    const store = SqliteProvenanceStore.open({ path });
    try {
      expect(sortById(await store.getJobs(records.map((r) => r.jobId)))).to.deep.equal(sortById(records));
      const children = await store.listChildren(parent.jobId, 10);
      expect(children.map((r) => r.jobId)).to.deep.equal(sortById([olderResult, newerResult, running]).map((r) => r.jobId));

      const query = { ...hashes, cacheKeySalt: '', excludeJobId: parent.jobId };
      expect((await store.findReusableResult(query))?.jobId).to.equal(newerResult.jobId);
      expect((await store.findReusableResult({ ...query, completedAfter: at(1500) }))?.jobId).to.equal(newerResult.jobId);
      expect((await store.findReusableResult({ ...query, completedAfter: at(2000) }))?.jobId).to.equal(undefined);
      expect(await store.listByStatus({ origin: 'SUBMITTED', statuses: ['RUNNING'], limit: 10 })).to.deep.equal([running]);
      expect((await store.listByStatus({ origin: 'RECORDED', statuses: ['SUCCEEDED'], limit: 10 })).map((r) => r.jobId)).to.deep.equal(
        sortById([parent, olderResult, newerResult]).map((r) => r.jobId),
      );

      const auditor = { tenant: nextJobId('tenant'), grant: 'auditor@example.test' };
      expect(await store.listJobs({ reader: auditor, filter: {}, limit: 10 })).to.deep.equal([running]);

      expect(await store.markStale([newerResult.jobId], at(3000))).to.equal(1);
      expect((await store.findReusableResult(query))?.jobId).to.equal(olderResult.jobId);
      const added = makeJob({ tenant, origin: 'SUBMITTED', status: 'QUEUED' });
      expect(await store.insertJobs([added])).to.deep.equal([{ inserted: true }]);
      expect(sortById(await store.listByStatus({ origin: 'SUBMITTED', statuses: ['RUNNING', 'QUEUED'], limit: 10 }))).to.deep.equal(
        sortById([running, added]),
      );
    } finally {
      await store.close();
    }
    expect(schemaVersion(path)).to.equal(SCHEMA_VERSION);

    // Opening a migrated database again changes nothing.
    const reopened = SqliteProvenanceStore.open({ path });
    try {
      expect(await reopened.getJobs([parent.jobId])).to.deep.equal([parent]);
      expect(await reopened.listWithPendingEvents(10)).to.deep.equal([]);
    } finally {
      await reopened.close();
    }
    expect(schemaVersion(path)).to.equal(SCHEMA_VERSION);
  });

  it('brings a database of issue #3 (schema version 2) to the current version, pending events counted from the documents', async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    const t0 = Date.UTC(2025, 0, 20, 9, 0, 0, 0);
    const at = (offsetMs: number) => new Date(t0 + offsetMs);
    const parent = makeJob({ tenant, completedAt: at(1000) });
    const result = makeJob({ tenant, definitionHash: parent.definitionHash, inputHash: parent.inputHash, completedAt: at(2000) });
    const queued = makeJob({ tenant, origin: 'SUBMITTED', status: 'QUEUED', parentIds: [parent.jobId] });
    // The documents are the source of the new column, whatever wrote them: these two hold an outbox, one of them empty.
    const pending = withEvents(makeJob({ tenant, origin: 'SUBMITTED', status: 'RUNNING', parentIds: [parent.jobId] }), ['compute.job.started'], at(3000));
    const emptyOutbox = { ...makeJob({ tenant }), eventSeq: 2, pendingEvents: [] };
    const records = [parent, result, queued, pending, emptyOutbox];
    writeIssue3Database(path, records);

    const store = SqliteProvenanceStore.open({ path });
    try {
      expect(sortById(await store.getJobs(records.map((r) => r.jobId)))).to.deep.equal(sortById(records));
      expect(await store.listWithPendingEvents(10)).to.deep.equal([pending]);
      expect((await store.findReusableResult({ tenant, definitionHash: parent.definitionHash, inputHash: parent.inputHash, cacheKeySalt: '', excludeJobId: 'none' }))?.jobId).to.equal(
        result.jobId,
      );
      expect(await store.listByStatus({ origin: 'SUBMITTED', statuses: ['QUEUED'], limit: 10 })).to.deep.equal([queued]);

      await store.clearPendingEvents([{ jobId: pending.jobId, etag: pending.etag, upToSeq: pending.eventSeq! }]);
      const { pendingEvents: _cleared, ...withoutOutbox } = pending;
      expect(await store.getJobs([pending.jobId])).to.deep.equal([withoutOutbox]);
      expect(await store.listWithPendingEvents(10)).to.deep.equal([]);
      const added = withEvents(makeJob({ tenant }), ['job.provenance.created'], at(4000));
      expect(await store.insertJobs([added])).to.deep.equal([{ inserted: true }]);
      expect(await store.listWithPendingEvents(10)).to.deep.equal([added]);
    } finally {
      await store.close();
    }
    expect(schemaVersion(path)).to.equal(SCHEMA_VERSION);
  });

  it('brings a database of issue #4 (schema version 3) to the current version, readers and redaction taken from the documents', async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    const otherTenant = nextJobId('tenant');
    const subject = 'ana@example.test';
    const t0 = Date.UTC(2025, 5, 2, 10, 0, 0, 0);
    const at = (offsetMs: number) => new Date(t0 + offsetMs);
    const root = makeJob({ tenant, createdAt: at(0) });
    const shared = makeJob({ tenant: otherTenant, readers: ['zoe@example.test', subject], parentIds: [root.jobId], createdAt: at(1000) });
    // A subject named twice is one reader.
    const sharedTwice = withEvents(makeJob({ tenant: otherTenant, readers: [subject, subject], createdAt: at(2000) }), ['job.provenance.created'], at(2000));
    const notShared = makeJob({ tenant: otherTenant, readers: ['zoe@example.test'], createdAt: at(3000) });
    const hashes = { tenant, definitionHash: root.definitionHash, inputHash: root.inputHash };
    const result = makeJob({ ...hashes, createdAt: at(4000), completedAt: at(4500) });
    // Newer, so the cache would serve it, were its redaction not read from the document.
    const redactedResult = makeJob({ ...hashes, payloadRedacted: true, createdAt: at(5000), completedAt: at(5500) });
    const records = [root, shared, sharedTwice, notShared, result, redactedResult];
    writeIssue4Database(path, records);

    const store = SqliteProvenanceStore.open({ path });
    try {
      expect(sortById(await store.getJobs(records.map((r) => r.jobId)))).to.deep.equal(sortById(records));
      const reader = { tenant, grant: subject };
      const visible = [redactedResult, result, sharedTwice, shared, root];
      expect(await store.listJobs({ reader, filter: {}, limit: 10 })).to.deep.equal(visible);
      const paged: string[] = [];
      for (let page = await store.listJobs({ reader, filter: {}, limit: 1 }); page.length > 0; ) {
        paged.push(page[0]!.jobId);
        page = await store.listJobs({ reader, filter: {}, limit: 1, after: { createdAt: page[0]!.createdAt, jobId: page[0]!.jobId } });
      }
      expect(paged).to.deep.equal(visible.map((r) => r.jobId));
      expect(await store.listJobs({ reader: { tenant: nextJobId('tenant'), grant: subject }, filter: {}, limit: 10 })).to.deep.equal([sharedTwice, shared]);
      expect((await store.findReusableResult({ ...hashes, cacheKeySalt: '', excludeJobId: root.jobId }))?.jobId).to.equal(result.jobId);
      expect(await store.lineage({ rootId: root.jobId, direction: 'DESCENDANTS', projection: 'IDS' })).to.deep.equal([
        { jobId: shared.jobId, parentIds: [root.jobId], tenant: otherTenant, readers: ['zoe@example.test', subject], depth: 1 },
      ]);
      expect(await store.listWithPendingEvents(10)).to.deep.equal([sharedTwice]);

      // The migrated reader rows follow replacements like new ones.
      const unshared = { ...shared, readers: ['zoe@example.test'], etag: nextJobId('etag') };
      expect(await store.replaceJob(unshared, shared.etag)).to.equal(true);
      const nowShared = { ...notShared, readers: [subject], etag: nextJobId('etag') };
      expect(await store.replaceJob(nowShared, notShared.etag)).to.equal(true);
      expect(await store.listJobs({ reader: { tenant: nextJobId('tenant'), grant: subject }, filter: {}, limit: 10 })).to.deep.equal([nowShared, sharedTwice]);
    } finally {
      await store.close();
    }
    expect(schemaVersion(path)).to.equal(SCHEMA_VERSION);
  });

  it('brings a database of issue #7 (schema version 5) to the current version, its pending events moved out of the documents and relayed by the sweep', async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    const subject = 'ana@example.test';
    const t0 = Date.UTC(2025, 8, 1, 8, 0, 0, 0);
    const at = (offsetMs: number) => new Date(t0 + offsetMs);
    const relayed = makeJob({ tenant, createdAt: at(0) });
    // Left behind by a crash or an unreachable Redis: one event, several, and the outbox of a submitted job still running.
    const pendingOne = withEvents(makeJob({ tenant, parentIds: [relayed.jobId], createdAt: at(1000) }), ['job.provenance.created'], at(1000));
    const pendingThree = withEvents(
      makeJob({ tenant, readers: [subject], createdAt: at(2000) }),
      ['job.provenance.created', 'compute.job.completed', 'job.provenance.completed'],
      at(2000),
    );
    const running = withEvents(
      makeJob({ tenant, origin: 'SUBMITTED', status: 'RUNNING', createdAt: at(3000) }),
      ['compute.job.submitted', 'job.provenance.created', 'compute.job.started'],
      at(3000),
    );
    const emptyOutbox = { ...makeJob({ tenant, createdAt: at(4000) }), eventSeq: 2, pendingEvents: [] };
    const records = [relayed, pendingOne, pendingThree, running, emptyOutbox];
    writeIssue7Database(path, records);

    const store = SqliteProvenanceStore.open({ path });
    try {
      expect(sortById(await store.getJobs(records.map((r) => r.jobId)))).to.deep.equal(sortById(records));
      expect(await store.listByStatus({ origin: 'SUBMITTED', statuses: ['RUNNING'], limit: 10 })).to.deep.equal([running]);
      expect(await store.listJobs({ reader: { tenant: nextJobId('tenant'), grant: subject }, filter: {}, limit: 10 })).to.deep.equal([pendingThree]);

      expect(await sweepToLog(store)).to.deep.equal({ swept: 3, appended: sortById([pendingOne, pendingThree, running]).flatMap((r) => r.pendingEvents!) });
      expect(await store.listWithPendingEvents(10)).to.deep.equal([]);
      const withoutOutboxes = records.map((r) => (r.pendingEvents?.length ? (({ pendingEvents: _relayed, ...rest }) => rest)(r) : r));
      expect(sortById(await store.getJobs(records.map((r) => r.jobId)))).to.deep.equal(sortById(withoutOutboxes));
    } finally {
      await store.close();
    }
    // The same schema as a new database's, and no document holds an outbox of events any more.
    await expectCurrentSchema(path);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) FROM jobs WHERE json_array_length(doc, '$.pendingEvents') > 0 OR pending_event_count <> 0").pluck().get()).to.equal(0);
    } finally {
      db.close();
    }
  });

  it('brings a database of issue #15 (schema version 6) to the current version: its results stay reusable without salts, and only without (issue #16 item 5)', async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    const result = makeJob({ tenant, completedAt: new Date(Date.UTC(2026, 0, 1)) });
    writeIssue15Database(path, [result]);

    const hashes = { tenant, definitionHash: result.definitionHash, inputHash: result.inputHash, excludeJobId: 'none' };
    const store = SqliteProvenanceStore.open({ path });
    try {
      expect(await store.findReusableResult({ ...hashes, cacheKeySalt: '' })).to.deep.equal(result);
      expect(await store.findReusableResult({ ...hashes, cacheKeySalt: cacheKeySalt({ tenantCacheSalt: 'new' }) })).to.equal(undefined);
      const salted = makeJob({ tenant, definitionHash: result.definitionHash, inputHash: result.inputHash, tenantCacheSalt: 'new', completedAt: new Date(Date.UTC(2026, 0, 2)) });
      await store.insertJobs([salted]);
      expect((await store.findReusableResult({ ...hashes, cacheKeySalt: cacheKeySalt({ tenantCacheSalt: 'new' }) }))?.jobId).to.equal(salted.jobId);
      expect((await store.findReusableResult({ ...hashes, cacheKeySalt: '' }))?.jobId).to.equal(result.jobId);
    } finally {
      await store.close();
    }
    await expectCurrentSchema(path);
  });

  it('brings a database of issue #16 item 5 (schema version 7) to the current version: each job\'s state now stands from its creation until its next write (issue #16 item 1)', async () => {
    const path = newPath();
    const createdAt = new Date(Date.UTC(2026, 0, 1));
    const old = makeJob({ status: 'RUNNING', createdAt, labels: { stage: 'old' } });
    writeOldDatabase(path, 7, [old]);
    const later = new Date(Date.UTC(2026, 0, 5));
    const store = SqliteProvenanceStore.open({ path });
    try {
      expect((await store.statesAsOf([old.jobId], new Date(createdAt.getTime() - 1))).size).to.equal(0);
      expect((await store.statesAsOf([old.jobId], createdAt)).get(old.jobId)).to.deep.equal(stateOf(old));
      const failed: JobRecord = { ...old, status: 'FAILED', completedAt: later, updatedAt: later, etag: 'after-migration', labels: { stage: 'new' } };
      expect(await store.replaceJob(failed, old.etag)).to.equal(true);
      expect((await store.statesAsOf([old.jobId], new Date(later.getTime() - 1))).get(old.jobId)).to.deep.equal(stateOf(old));
      expect((await store.statesAsOf([old.jobId], later)).get(old.jobId)).to.deep.equal(stateOf(failed));
    } finally {
      await store.close();
    }
    await expectCurrentSchema(path);
  });

  it('brings a database of issue #16 item 1 (schema version 8) to the current version: its pending events move into outbox rows, every event as it was, read, cleared, replaced and relayed in order (issue #15 item 1)', async () => {
    const path = newPath();
    const tenant = nextJobId('tenant');
    const t0 = Date.UTC(2026, 2, 1, 8, 0, 0, 0);
    const at = (offsetMs: number) => new Date(t0 + offsetMs);
    const relayed = makeJob({ tenant, createdAt: at(0) });
    const pendingOne = withEvents(makeJob({ tenant, parentIds: [relayed.jobId], createdAt: at(1000) }), ['job.provenance.created'], at(1000));
    const pendingThree = withEvents(
      makeJob({ tenant, createdAt: at(2000) }),
      ['job.provenance.created', 'compute.job.completed', 'job.provenance.completed'],
      at(2000),
    );
    const running = withEvents(makeJob({ tenant, origin: 'SUBMITTED', status: 'RUNNING', createdAt: at(3000) }), ['compute.job.submitted', 'job.provenance.created'], at(3000));
    const emptyOutbox = { ...makeJob({ tenant, createdAt: at(4000) }), eventSeq: 2, pendingEvents: [] };
    // More outboxes than one outbox row holds.
    const many = Array.from({ length: OUTBOX_WRITE_RECORDS }, (_, i) =>
      withEvents(makeJob({ tenant, createdAt: at(5000 + i) }), ['job.provenance.created'], at(5000 + i)),
    );
    const records = [relayed, pendingOne, pendingThree, running, emptyOutbox, ...many];
    const pending = [pendingOne, pendingThree, running, ...many];
    writeOldDatabase(path, 8, records);

    const store = SqliteProvenanceStore.open({ path });
    try {
      expect(outboxWriteCount(path)).to.equal(2);
      expect(sortById(await store.getJobs(records.map((r) => r.jobId)))).to.deep.equal(sortById(records));
      expect(await store.listWithPendingEvents(pending.length + 1)).to.deep.equal(sortById(pending));

      // A partial clearance, and a replacement that carries the outbox further, work on the moved outboxes.
      await store.clearPendingEvents([{ jobId: pendingThree.jobId, etag: pendingThree.etag, upToSeq: 1 }]);
      const { pendingEvents: _cleared, ...withoutOutbox } = pendingThree;
      const partlyCleared = { ...withoutOutbox, pendingEvents: pendingThree.pendingEvents!.slice(1) };
      expect(await store.getJobs([pendingThree.jobId])).to.deep.equal([partlyCleared]);
      const started = withEvents({ ...running, etag: 'started', updatedAt: at(9000) }, ['compute.job.started'], at(9000));
      expect(await store.replaceJob(started, running.etag)).to.equal(true);
      expect(await store.getJobs([running.jobId])).to.deep.equal([started]);

      expect(await sweepToLog(store)).to.deep.equal({
        swept: pending.length,
        appended: sortById([pendingOne, partlyCleared, started, ...many]).flatMap((r) => r.pendingEvents!),
      });
      expect(await store.listWithPendingEvents(10)).to.deep.equal([]);
      expect(outboxWriteCount(path)).to.equal(0);
    } finally {
      await store.close();
    }
    await expectCurrentSchema(path);
  });

  it('keeps the history through a restart: a reopened file answers as of every earlier time (issue #16 item 1)', async () => {
    const path = newPath();
    const createdAt = new Date(Date.UTC(2026, 1, 1));
    const queued = makeJob({ status: 'QUEUED', createdAt });
    const running: JobRecord = { ...queued, status: 'RUNNING', startedAt: new Date(createdAt.getTime() + 1000), updatedAt: new Date(createdAt.getTime() + 1000), etag: 'running' };
    const first = SqliteProvenanceStore.open({ path });
    try {
      await first.insertJobs([queued]);
      expect(await first.replaceJob(running, queued.etag)).to.equal(true);
    } finally {
      await first.close();
    }
    const reopened = SqliteProvenanceStore.open({ path });
    try {
      expect((await reopened.statesAsOf([queued.jobId], createdAt)).get(queued.jobId)).to.deep.equal(stateOf(queued));
      expect((await reopened.statesAsOf([queued.jobId], running.updatedAt)).get(queued.jobId)).to.deep.equal(stateOf(running));
    } finally {
      await reopened.close();
    }
  });

  it('creates the current version in a new database', async () => {
    const path = newPath();
    await SqliteProvenanceStore.open({ path }).close();
    expect(schemaVersion(path)).to.equal(SCHEMA_VERSION);
  });

  it('refuses a database made by a newer build, and leaves it as it is', () => {
    const path = newPath();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => SqliteProvenanceStore.open({ path })).to.throw(new RegExp(`schema version 99 is newer than this build supports \\(${SCHEMA_VERSION}\\)`));
    expect(schemaVersion(path)).to.equal(99);
  });
});

describe('SQLite lineage graph', function () {
  let graphDirectory: string;
  let files = 0;
  const ids = (rows: Array<{ jobId: string }>) => rows.map((row) => row.jobId).sort(compareCodeUnits);

  before(() => {
    graphDirectory = mkdtempSync(join(tmpdir(), 'provenance-sqlite-graph-'));
  });

  after(() => {
    rmSync(graphDirectory, { recursive: true, force: true });
  });

  /** Two stores on one file, as a server and a worker process have: the reader's graph must follow what the writer commits. */
  async function twoConnections(): Promise<{ reader: SqliteProvenanceStore; writer: SqliteProvenanceStore; path: string; close(): Promise<void> }> {
    const path = join(graphDirectory, `graph-${++files}.sqlite`);
    const reader = SqliteProvenanceStore.open({ path });
    const writer = SqliteProvenanceStore.open({ path });
    return { reader, writer, path, close: async () => (await reader.close(), await writer.close()) };
  }

  it('sees jobs another connection inserts, and parents and readers it changes, after its graph was loaded', async () => {
    const { reader, writer, close } = await twoConnections();
    try {
      const a = makeJob();
      const b = makeJob({ parentIds: [a.jobId] });
      await writer.insertJobs([a, b]);
      expect(ids(await reader.lineage({ rootId: b.jobId, direction: 'ANCESTORS', projection: 'IDS' }))).to.deep.equal([a.jobId]);

      const c = makeJob({ parentIds: [b.jobId] });
      const other = makeJob();
      await writer.insertJobs([c, other]);
      expect(ids(await reader.lineage({ rootId: a.jobId, direction: 'DESCENDANTS', projection: 'IDS' }))).to.deep.equal([b.jobId, c.jobId].sort(compareCodeUnits));

      const moved = { ...c, parentIds: [other.jobId], readers: ['auditor@example.test'], etag: 'moved' };
      expect(await writer.replaceJob(moved, c.etag)).to.equal(true);
      expect(ids(await reader.lineage({ rootId: a.jobId, direction: 'DESCENDANTS', projection: 'IDS' }))).to.deep.equal([b.jobId]);
      const [movedRow] = await reader.lineage({ rootId: other.jobId, direction: 'DESCENDANTS', projection: 'IDS' });
      expect(movedRow).to.deep.include({ jobId: c.jobId, parentIds: [other.jobId], readers: ['auditor@example.test'] });
    } finally {
      await close();
    }
  });

  it('reloads whole when the changes it has not applied were already trimmed', async () => {
    const { reader, writer, path, close } = await twoConnections();
    try {
      const a = makeJob();
      await writer.insertJobs([a]);
      expect(await reader.lineage({ rootId: a.jobId, direction: 'DESCENDANTS', projection: 'IDS' })).to.deep.equal([]);
      const b = makeJob({ parentIds: [a.jobId] });
      await writer.insertJobs([b]);
      // What the trim trigger does once enough changes follow: the change that added b is gone.
      const db = new Database(path);
      db.exec('DELETE FROM lineage_changes');
      db.close();
      const c = makeJob({ parentIds: [b.jobId] });
      await writer.insertJobs([c]);
      expect(ids(await reader.lineage({ rootId: a.jobId, direction: 'DESCENDANTS', projection: 'IDS' }))).to.deep.equal([b.jobId, c.jobId].sort(compareCodeUnits));
    } finally {
      await close();
    }
  });
});

describe('SQLite checkpoints', function () {
  let checkpointDirectory: string;

  before(() => {
    checkpointDirectory = mkdtempSync(join(tmpdir(), 'provenance-sqlite-checkpoints-'));
  });

  after(() => {
    rmSync(checkpointDirectory, { recursive: true, force: true });
  });

  it('copies the WAL into the database file once it holds CHECKPOINT_PAGES pages, below the serving connection\'s own threshold (on the checkpoint thread)', async () => {
    const path = join(checkpointDirectory, 'provenance.sqlite');
    const store = SqliteProvenanceStore.open({ path });
    // A connection of the test's own: the WAL's counts as SQLite gives them to any connection.
    const observer = new Database(path);
    const wal = () => walState(observer)!;
    try {
      // The graph's load reads in a transaction of its own: a checkpoint while it runs stops at its snapshot, and without
      // writes after it nothing asks for another (on a busy machine the load outlasted the writes below).
      await store.loading()?.done;
      const records: JobRecord[] = [];
      let written = wal();
      while (written.frames < CHECKPOINT_PAGES) {
        const batch = Array.from({ length: 200 }, () => makeJob());
        await store.insertJobs(batch);
        records.push(...batch);
        written = wal();
      }
      // Below the serving connection's own threshold, so only the thread copies them.
      expect(written.frames).to.be.below(FALLBACK_AUTOCHECKPOINT_PAGES);
      await until(() => wal().copied === written.frames, 'the checkpoint thread to copy the WAL', 10_000);
      expect(wal().copied).to.equal(written.frames);
      expect((await store.getJobs(records.map((r) => r.jobId))).map((r) => r.jobId).sort(compareCodeUnits)).to.deep.equal(
        records.map((r) => r.jobId).sort(compareCodeUnits),
      );
    } finally {
      observer.close();
      await store.close();
    }
  });
  it('copies what a reader held back once it lets go, without another write', async () => {
    const path = join(checkpointDirectory, 'held-back.sqlite');
    const store = SqliteProvenanceStore.open({ path });
    const observer = new Database(path);
    const wal = () => walState(observer)!;
    const reader = new Database(path, { readonly: true });
    try {
      await store.loading()?.done;
      await store.insertJobs([makeJob()]);
      // A read transaction keeps its snapshot: a checkpoint cannot copy the frames written after it.
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM jobs').get();
      let written = wal();
      while (written.frames < CHECKPOINT_PAGES) {
        await store.insertJobs(Array.from({ length: 200 }, () => makeJob()));
        written = wal();
      }
      // The thread's checkpoint has run, and stopped at the reader's snapshot, before the reader lets go.
      await until(() => wal().copied > 0, 'a checkpoint stopped at the reader', 30_000);
      expect(wal().copied).to.be.above(0).and.below(written.frames);
      reader.exec('COMMIT');
      await until(() => wal().copied === written.frames, 'the retried checkpoint to copy the WAL', 30_000);
      expect(wal().copied).to.equal(written.frames);
    } finally {
      reader.close();
      observer.close();
      await store.close();
    }
  });
});

describe('SQLite replacements', function () {
  let replacementDirectory: string;

  before(() => {
    replacementDirectory = mkdtempSync(join(tmpdir(), 'provenance-sqlite-replacements-'));
  });

  after(() => {
    rmSync(replacementDirectory, { recursive: true, force: true });
  });

  it('writes no history row for an insert, and the state a job was inserted in before its first change (replacement or markStale), in that transaction', async () => {
    const path = join(replacementDirectory, 'first-change.sqlite');
    const createdAt = new Date(Date.UTC(2026, 3, 1));
    const later = new Date(createdAt.getTime() + 1000);
    const latest = new Date(createdAt.getTime() + 2000);
    const unchanged = makeJob({ createdAt });
    const replaced = makeJob({ status: 'RUNNING', createdAt });
    const staled = makeJob({ createdAt, completedAt: createdAt });
    const store = SqliteProvenanceStore.open({ path });
    try {
      await store.insertJobs([unchanged, replaced, staled]);
      expect(historyRows(path)).to.deep.equal([]);
      const ids = [unchanged, replaced, staled].map((r) => r.jobId);
      const asCreated = new Map([unchanged, replaced, staled].map((r) => [r.jobId, stateOf(r)]));
      expect(await store.statesAsOf(ids, createdAt)).to.deep.equal(asCreated);

      const failed: JobRecord = { ...replaced, status: 'FAILED', completedAt: later, updatedAt: later, etag: 'failed' };
      expect(await store.replaceJob(failed, replaced.etag)).to.equal(true);
      expect(await store.markStale([staled.jobId], latest)).to.equal(1);
      const [stale] = await store.getJobs([staled.jobId]);
      expect(historyRows(path)).to.deep.equal(
        [
          { jobId: replaced.jobId, at: createdAt.getTime(), seq: 1 },
          { jobId: replaced.jobId, at: later.getTime(), seq: 1 },
          { jobId: staled.jobId, at: createdAt.getTime(), seq: 1 },
          { jobId: staled.jobId, at: latest.getTime(), seq: 1 },
        ].sort((a, b) => compareCodeUnits(a.jobId, b.jobId) || a.at - b.at),
      );
      expect(await store.statesAsOf(ids, createdAt)).to.deep.equal(asCreated);
      expect(await store.statesAsOf(ids, latest)).to.deep.equal(
        new Map([
          [unchanged.jobId, stateOf(unchanged)],
          [replaced.jobId, stateOf(failed)],
          [staled.jobId, stateOf(stale!)],
        ]),
      );
    } finally {
      await store.close();
    }
  });

  /**
   * A replacement writes only the columns that changed (replaceJobs), with
   * a statement per set of changed columns up to a bound, then every column:
   * whatever it changed, the row and its reader rows must be what inserting
   * the same record into an empty database writes. 128 sets of changes go
   * past the bound.
   */
  it('leaves every column as an insert of the same record would, whichever columns change, past the bound on prepared updates', async () => {
    const path = join(replacementDirectory, 'replaced.sqlite');
    const store = SqliteProvenanceStore.open({ path });
    const raw = new Database(path, { readonly: true });
    try {
      const parent = makeJob();
      const original = makeJob({ status: 'QUEUED', origin: 'SUBMITTED', parentIds: [parent.jobId] });
      await store.insertJobs([parent, original]);
      const variants: Array<(record: JobRecord) => Partial<JobRecord>> = [
        () => ({ type: 'text.translate' }),
        (r) => ({ status: 'SUCCEEDED', cacheState: 'FRESH', completedAt: new Date(r.createdAt.getTime() + 1000) }),
        () => ({ labels: { team: 'platform', stage: 'replaced' } }),
        () => ({ readers: ['user:auditor@example.test'] }),
        () => ({ requestId: 'request-replaced' }),
        (r) => ({ provider: { ...r.provider, model: 'summarizer-large' } }),
        (r) => ({ createdAt: new Date(r.createdAt.getTime() - 60_000), inputHash: 'f'.repeat(64) }),
      ];
      let current = original;
      for (let changes = 0; changes < 2 ** variants.length; changes++) {
        let next: JobRecord = { ...original, etag: `etag-${changes}` };
        variants.forEach((variant, bit) => {
          if (changes & (1 << bit)) next = { ...next, ...variant(original) };
        });
        expect(await store.replaceJob(next, current.etag)).to.equal(true);
        current = next;
        expect(storedRows(raw, next.jobId), `changes ${changes.toString(2)}`).to.deep.equal(await rowsOfFreshInsert([parent, next]));
      }
    } finally {
      raw.close();
      await store.close();
    }
  });

  let fresh = 0;
  /** What inserting these records into an empty database stores for the last one. */
  async function rowsOfFreshInsert(records: JobRecord[]): Promise<ReturnType<typeof storedRows>> {
    const path = join(replacementDirectory, `fresh-${++fresh}.sqlite`);
    const store = SqliteProvenanceStore.open({ path, lineageGraph: 'on-demand' });
    try {
      await store.insertJobs(records);
      const raw = new Database(path, { readonly: true });
      try {
        return storedRows(raw, records.at(-1)!.jobId);
      } finally {
        raw.close();
      }
    } finally {
      await store.close();
    }
  }

  function storedRows(raw: Database.Database, jobId: string): { job: unknown; readers: unknown[]; parents: unknown[] } {
    return {
      job: raw.prepare('SELECT * FROM jobs WHERE job_id = ?').get(jobId),
      readers: raw.prepare('SELECT * FROM job_readers WHERE job_id = ? ORDER BY subject').all(jobId),
      parents: raw.prepare('SELECT * FROM job_parents WHERE child_id = ? ORDER BY parent_id').all(jobId),
    };
  }
});

/** A database as the committed code of issue #2 wrote it: its schema (version 1), rows and edges. */
function writeIssue2Database(path: string, records: readonly JobRecord[]): void {
  writeOldDatabase(path, 1, records);
}

/** A database as the committed code of issue #3 wrote it: its schema (version 2), rows and edges. */
function writeIssue3Database(path: string, records: readonly JobRecord[]): void {
  writeOldDatabase(path, 2, records);
}

/** A database as the committed code of issue #4 wrote it: its schema (version 3), rows and edges. */
function writeIssue4Database(path: string, records: readonly JobRecord[]): void {
  writeOldDatabase(path, 3, records);
}

/** A database as the committed code of issue #7 wrote it: its schema (version 5), rows, edges and reader rows; outboxes in the documents. */
function writeIssue7Database(path: string, records: readonly JobRecord[]): void {
  writeOldDatabase(path, 5, records);
}

/** A database as the committed code of issue #15 wrote it: its schema (version 6), rows, edges and reader rows; records without outboxes or salts. */
function writeIssue15Database(path: string, records: readonly JobRecord[]): void {
  writeOldDatabase(path, 6, records);
}

/** One relay sweep of the store into an empty event log: how many records it relayed, and the events appended, in order, without cursors. */
async function sweepToLog(store: ProvenanceStore): Promise<{ swept: number; appended: ProvenanceEvent[] }> {
  const log = new MemoryEventLog();
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const swept = await new EventRelay(store, log, quiet, NO_METRICS).sweep();
  const appended = (await log.read(undefined, 100_000)).map(({ cursor: _cursor, ...event }) => event);
  return { swept, appended };
}

/** What read answers from the database at path, opened read-only. */
function readDatabase<T>(path: string, read: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** How many rows outbox_writes holds (schema version 9). */
function outboxWriteCount(path: string): number {
  return readDatabase(path, (db) => db.prepare('SELECT count(*) FROM outbox_writes').pluck().get() as number);
}

function historyRows(path: string): Array<{ jobId: string; at: number; seq: number }> {
  return readDatabase(
    path,
    (db) => db.prepare('SELECT job_id AS jobId, at, seq FROM job_history ORDER BY job_id, at, seq').all() as Array<{ jobId: string; at: number; seq: number }>,
  );
}

/**
 * The jobs columns each schema version added, with their values as the code of that version wrote them
 * (version 4 added readers and payload_redacted, and job_readers; version 5 no column).
 */
const COLUMNS_BY_VERSION: Array<Record<string, (r: JobRecord) => unknown>> = [
  {
    job_id: (r) => r.jobId,
    tenant: (r) => r.tenant,
    request_id: (r) => r.requestId ?? null,
    type: (r) => r.type,
    status: (r) => r.status,
    cache_state: (r) => r.cacheState,
    definition_hash: (r) => r.definitionHash,
    input_hash: (r) => r.inputHash,
    provider_id: (r) => r.provider.id,
    provider_model: (r) => r.provider.model,
    provider_version: (r) => r.provider.version,
    created_at: (r) => r.createdAt.getTime(),
    etag: (r) => r.etag,
    parent_ids: (r) => JSON.stringify(r.parentIds),
    labels: (r) => JSON.stringify(r.labels),
    doc: (r) => encodeRecord(r),
  },
  { completed_at: (r) => r.completedAt?.getTime() ?? null, origin: (r) => r.origin },
  { pending_event_count: (r) => r.pendingEvents?.length ?? 0 },
  { readers: (r) => JSON.stringify(r.readers), payload_redacted: (r) => (r.payloadRedacted ? 1 : 0) },
  {},
  {},
];

/**
 * A database of that schema version as the committed code wrote it: the schema statements of the versions up to it, rows, edges,
 * (from version 4) reader rows, (from version 6) outbox rows, one per pending event, and (from version 8) one history entry per record.
 */
function writeOldDatabase(path: string, version: number, records: readonly JobRecord[]): void {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    // Migration 2 converts the times of rows already there; none are when a database is created.
    db.function('iso_to_millis', (iso: string | null) => (iso === null ? null : Date.parse(iso)));
    // Migration 8 fills the history of rows already there; none are.
    db.function('job_state_of', (_doc: string) => null);
    for (const statements of OLD_SCHEMA_STATEMENTS.slice(0, version)) db.exec(statements);
    db.pragma(`user_version = ${version}`);
    const columns = Object.entries(Object.assign({}, ...COLUMNS_BY_VERSION.slice(0, version)) as Record<string, (r: JobRecord) => unknown>);
    const insertJob = db.prepare(
      `INSERT INTO jobs (${columns.map(([name]) => name).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
    );
    const insertEdge = db.prepare('INSERT INTO job_parents (child_id, parent_id) VALUES (?, ?)');
    const insertReader = version >= 4 ? db.prepare('INSERT OR IGNORE INTO job_readers (subject, created_at, job_id) VALUES (?, ?, ?)') : undefined;
    const insertEvent = version >= 6 ? db.prepare('INSERT INTO job_outbox (job_id, seq, event) VALUES (?, ?, ?)') : undefined;
    const insertHistory = version >= 8 ? db.prepare('INSERT INTO job_history (job_id, at, seq, state) VALUES (?, ?, 1, ?)') : undefined;
    for (const r of records) {
      // From version 6 a document holds no pending events (an empty outbox stays as written): they are outbox rows.
      const stored = insertEvent && r.pendingEvents?.length ? (({ pendingEvents: _inOutbox, ...rest }) => rest)(r) : r;
      insertJob.run(columns.map(([, value]) => value(stored)));
      for (const parentId of r.parentIds) insertEdge.run(r.jobId, parentId);
      for (const subject of insertReader ? r.readers : []) insertReader!.run(subject, r.createdAt.getTime(), r.jobId);
      for (const event of insertEvent ? (r.pendingEvents ?? []) : []) insertEvent!.run(r.jobId, event.seq, eventJson(event));
      insertHistory?.run(r.jobId, r.createdAt.getTime(), encodeJobState(stateOf(r)));
    }
  } finally {
    db.close();
  }
}

/** The tables, indexes and triggers of a database, by name, with their SQL. */
function schemaOf(path: string): Array<{ type: string; name: string; sql: string | null }> {
  return readDatabase(
    path,
    (db) =>
      db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as Array<{
        type: string;
        name: string;
        sql: string | null;
      }>,
  );
}

function schemaVersion(path: string): number {
  return readDatabase(path, (db) => db.pragma('user_version', { simple: true }) as number);
}

function sortById(records: readonly JobRecord[]): JobRecord[] {
  return [...records].sort((a, b) => compareCodeUnits(a.jobId, b.jobId));
}

/** The schema statements of issue #2 (commit b130056), verbatim: what every version 1 database holds. */
const ISSUE_2_SCHEMA = `
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

/** The migration of issue #3 (commit 1283a19), verbatim: with ISSUE_2_SCHEMA, what every version 2 database holds. */
const ISSUE_3_MIGRATION = `
ALTER TABLE jobs ADD COLUMN origin TEXT NOT NULL DEFAULT 'RECORDED';
ALTER TABLE jobs ADD COLUMN completed_at INTEGER;
UPDATE jobs SET origin = json_extract(doc, '$.origin'), completed_at = iso_to_millis(json_extract(doc, '$.completedAt'));
DROP INDEX jobs_by_cache_key;
CREATE INDEX jobs_by_cache_key ON jobs (tenant, definition_hash, input_hash, completed_at, job_id);
CREATE INDEX jobs_by_origin_status ON jobs (origin, status, job_id);
`;

/** The migration of issue #4 (commit 53a8525), verbatim: with the two above, what every version 3 database holds. */
const ISSUE_4_MIGRATION = `
ALTER TABLE jobs ADD COLUMN pending_event_count INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET pending_event_count = json_array_length(doc, '$.pendingEvents') WHERE json_array_length(doc, '$.pendingEvents') > 0;
CREATE INDEX jobs_with_pending_events ON jobs (job_id) WHERE pending_event_count > 0;
`;

/** The migration of issue #5 (commit 0c9e66d), verbatim: with the three above, what every version 4 database holds. */
const ISSUE_5_MIGRATION = `
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

/** The migration of issue #7 (commit ae5860b), verbatim: with the four above, what every version 5 database holds. */
const ISSUE_7_MIGRATION = `
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
  DELETE FROM lineage_changes WHERE seq <= NEW.seq - 100000;
END;
`;

const ISSUE_16_SALT_MIGRATION = `
ALTER TABLE jobs ADD COLUMN cache_salt TEXT NOT NULL DEFAULT '';
DROP INDEX jobs_by_cache_key;
CREATE INDEX jobs_by_cache_key ON jobs (tenant, definition_hash, input_hash, cache_salt, completed_at, job_id);
`;

const ISSUE_15_MIGRATION = `
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

/** The migration of issue #16 item 1 (commit d58bbd3), verbatim: with the seven above, what every version 8 database holds. */
const ISSUE_16_HISTORY_MIGRATION = `
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

/** What each schema version added, verbatim: OLD_SCHEMA_STATEMENTS[i] takes a database to version i + 1. */
const OLD_SCHEMA_STATEMENTS = [
  ISSUE_2_SCHEMA,
  ISSUE_3_MIGRATION,
  ISSUE_4_MIGRATION,
  ISSUE_5_MIGRATION,
  ISSUE_7_MIGRATION,
  ISSUE_15_MIGRATION,
  ISSUE_16_SALT_MIGRATION,
  ISSUE_16_HISTORY_MIGRATION,
];
