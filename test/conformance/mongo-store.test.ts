import type { ProvenanceStore } from '../../src/domain/ports/provenance-store.js';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { InsertTurns } from '../../src/adapters/mongo/insert-turns.js';
import { OperationWatch } from '../../src/adapters/mongo/operation-watch.js';
import { MongoProvenanceStore } from '../../src/adapters/mongo/mongo-provenance-store.js';
import { toDocument, type JobDocument } from '../../src/adapters/mongo/documents.js';
import { stateOf } from '../../src/domain/job-history.js';
import type { JobRecord } from '../../src/domain/job.js';
import { makeJob, nextJobId } from '../support/job-records.js';
import { startEmulatorProcess, startMongoLane, type EmulatorProcess, type MongoLane } from '../support/mongo-lane.js';
import { runProvenanceStoreConformance } from './provenance-store/index.js';

// Short enough for the "database is gone" test to fail fast, long enough for a busy machine.
const BREAKABLE_SELECTION_TIMEOUT_MS = 1500;

describe('MongoDB store lane', function () {
  let lane: MongoLane | undefined;
  const databases: string[] = [];
  const stores: MongoProvenanceStore[] = [];
  const privateEmulators: EmulatorProcess[] = [];

  before(async function () {
    lane = await startMongoLane();
  });

  after(async function () {
    await lane?.stop();
  });

  const databaseOf = new WeakMap<ProvenanceStore, string>();

  async function connect(database: string): Promise<MongoProvenanceStore> {
    const store = await MongoProvenanceStore.connect({ uri: lane!.uri, database, appName: 'provenance-conformance' });
    stores.push(store);
    databaseOf.set(store, database);
    return store;
  }

  let client: MongoClient | undefined;

  describe('MongoDB checked inserts', function () {
    // Insert turns rest on this alone (the emulator's transactions detect no write conflict, so they cannot be used).
    it('rest on compare-and-set of one document that loses no update among racing clients', async () => {
      const database = lane!.newDatabaseName();
      databases.push(database);
      const racers = await Promise.all(Array.from({ length: 4 }, async () => new MongoClient(lane!.uri).connect()));
      try {
        const counter = (racer: MongoClient) => racer.db(database).collection<{ _id: string; n: number }>('counter');
        await counter(racers[0]!).insertOne({ _id: 'c', n: 0 });
        let wins = 0;
        const race = async (racer: MongoClient) => {
          for (let i = 0; i < 50; i++) {
            const { n } = (await counter(racer).findOne({ _id: 'c' }))!;
            const { modifiedCount } = await counter(racer).updateOne({ _id: 'c', n }, { $set: { n: n + 1 } });
            wins += modifiedCount;
          }
        };
        await Promise.all(racers.flatMap((racer) => [race(racer), race(racer), race(racer)]));
        expect((await counter(racers[0]!).findOne({ _id: 'c' }))!.n).to.equal(wins);
      } finally {
        for (const racer of racers) await racer.close();
      }
    });

    it('finish a turn whose writer died after taking it, before deciding the next', async () => {
      const database = lane!.newDatabaseName();
      databases.push(database);
      const store = await connect(database);
      client = new MongoClient(lane!.uri);
      await client.connect();
      const turns = await InsertTurns.open(client.db(database), 5000, new OperationWatch(client, 5000));
      const x = makeJob({ jobId: nextJobId('x'), parentIds: ['y-of-dead-writer'] });
      // A writer decides to write x, takes the turn, and dies before writing it.
      const died = await turns.run([x], async () => [undefined], async () => Promise.reject(new Error('writer died'))).catch((error: Error) => error);
      expect(died).to.have.property('message', 'writer died');
      expect(await store.getJobs([x.jobId])).to.deep.equal([]);
      // The next checked insert writes x first, so its own check sees it.
      const y = makeJob({ jobId: 'y-of-dead-writer', parentIds: [x.jobId] });
      expect(await store.insertJobs([y])).to.deep.equal([{ inserted: false, conflict: 'LINEAGE_CYCLE', cycle: [y.jobId, x.jobId, y.jobId] }]);
      expect(await store.getJobs([x.jobId])).to.deep.equal([x]);
    });
  });

  describe('MongoDB history of a database older than history (issue #16 item 1)', function () {
    it('gives each job its state now from its creation until its next write, once, and keeps it across connections', async () => {
      const database = lane!.newDatabaseName();
      databases.push(database);
      client ??= await new MongoClient(lane!.uri).connect();
      const createdAt = new Date(Date.UTC(2026, 0, 1));
      const old = makeJob({ status: 'RUNNING', createdAt, labels: { stage: 'old' } });
      // As a build before history wrote it.
      await client.db(database).collection<JobDocument>('jobs').insertOne(toDocument(old));
      const store = await connect(database);
      expect((await store.statesAsOf([old.jobId], new Date(createdAt.getTime() - 1))).size).to.equal(0);
      expect((await store.statesAsOf([old.jobId], createdAt)).get(old.jobId)).to.deep.equal(stateOf(old));
      const later = new Date(Date.UTC(2026, 0, 5));
      const failed: JobRecord = { ...old, status: 'FAILED', completedAt: later, updatedAt: later, etag: 'after-history', labels: { stage: 'new' } };
      expect(await store.replaceJob(failed, old.etag)).to.equal(true);
      // Another process connecting later finds the history kept, and adds nothing to it.
      const other = await connect(database);
      expect((await other.statesAsOf([old.jobId], new Date(later.getTime() - 1))).get(old.jobId)).to.deep.equal(stateOf(old));
      expect((await other.statesAsOf([old.jobId], later)).get(old.jobId)).to.deep.equal(stateOf(failed));
      expect(await client.db(database).collection('job_history').countDocuments({ jobId: old.jobId })).to.equal(2);
    });
  });

  describe('MongoDB history of a write whose process stopped before its entry (issue #16 item 1)', function () {
    it('writes the entries the flags of the writes point to, at their times, once, and leaves no flag behind', async () => {
      const database = lane!.newDatabaseName();
      databases.push(database);
      client ??= await new MongoClient(lane!.uri).connect();
      const store = await connect(database);
      const history = client.db(database).collection<{ _id: string; jobId: string }>('job_history');
      const jobs = client.db(database).collection<JobDocument>('jobs');
      const createdAt = new Date(Date.UTC(2026, 1, 1));
      const running = makeJob({ status: 'RUNNING', createdAt, updatedAt: createdAt });
      expect(await store.insertJobs([running])).to.deep.equal([{ inserted: true }]);
      const later = new Date(Date.UTC(2026, 1, 2));
      const failed: JobRecord = { ...running, status: 'FAILED', completedAt: later, updatedAt: later, etag: 'lost-entry' };
      expect(await store.replaceJob(failed, running.etag)).to.equal(true);
      // The process stopped after the write, before its entry: as the replacement's entry were never written.
      await history.deleteOne({ _id: `${running.jobId} lost-entry` });
      // And one stopped after an insert, before its entry.
      const unrecorded = makeJob({ status: 'SUCCEEDED', createdAt, updatedAt: createdAt });
      await jobs.insertOne(toDocument(unrecorded));
      expect((await store.statesAsOf([running.jobId], later)).get(running.jobId)).to.deep.equal(stateOf(running));
      expect((await store.statesAsOf([unrecorded.jobId], later)).get(unrecorded.jobId)).to.equal(null);

      await store.repairHistory();
      expect((await store.statesAsOf([running.jobId], new Date(later.getTime() - 1))).get(running.jobId)).to.deep.equal(stateOf(running));
      expect((await store.statesAsOf([running.jobId], later)).get(running.jobId)).to.deep.equal(stateOf(failed));
      expect((await store.statesAsOf([unrecorded.jobId], createdAt)).get(unrecorded.jobId)).to.deep.equal(stateOf(unrecorded));
      expect(await jobs.countDocuments({ historyPending: true })).to.equal(0);
      // A later pass has nothing to do; a connection (which runs one) neither.
      await store.repairHistory();
      await connect(database);
      expect(await history.countDocuments({ jobId: { $in: [running.jobId, unrecorded.jobId] } })).to.equal(3);
      // Records read back carry no flag.
      expect(await store.getJobs([failed.jobId])).to.deep.equal([failed]);
    });
  });

  runProvenanceStoreConformance({
    name: process.env.MONGODB_URI ? 'MongoDB (MONGODB_URI)' : 'MongoDB (jongodb emulator)',
    async create() {
      const database = lane!.newDatabaseName();
      databases.push(database);
      return connect(database);
    },
    replacesOneAfterAnother: true,
    // A client of its own: another connection pool, as another server process has.
    openTwin: (store) => connect(databaseOf.get(store)!),
    async createBreakable() {
      // Killing a process is the only way to take a server away, so this store gets an emulator of
      // its own, even when MONGODB_URI names a real server for the other tests.
      const emulator = await startEmulatorProcess();
      privateEmulators.push(emulator);
      const store = await MongoProvenanceStore.connect({
        uri: emulator.uri,
        database: 'breakable',
        serverSelectionTimeoutMS: BREAKABLE_SELECTION_TIMEOUT_MS,
      });
      stores.push(store);
      return { store, breakDatabase: () => emulator.stop() };
    },
    async dispose() {
      await client?.close();
      for (const store of stores) await store.close();
      for (const emulator of privateEmulators) await emulator.stop();
      for (const database of databases) await lane!.dropDatabase(database);
    },
  });
});
