import type { ProvenanceStore } from '../../src/domain/ports/provenance-store.js';
import { MongoProvenanceStore } from '../../src/store/mongo/mongo-provenance-store.js';
import { startEmulatorProcess, startMongoLane, type EmulatorProcess, type MongoLane } from '../support/mongo-lane.js';
import { runProvenanceStoreConformance } from './provenance-store.js';

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

  runProvenanceStoreConformance({
    name: process.env.MONGODB_URI ? 'MongoDB (MONGODB_URI)' : 'MongoDB (jongodb emulator)',
    async create() {
      const database = lane!.newDatabaseName();
      databases.push(database);
      return connect(database);
    },
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
      for (const store of stores) await store.close();
      for (const emulator of privateEmulators) await emulator.stop();
      for (const database of databases) await lane!.dropDatabase(database);
    },
  });
});
