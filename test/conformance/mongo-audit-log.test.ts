import { expect } from 'chai';
import { MongoAuditLog } from '../../src/adapters/mongo/mongo-audit-log.js';
import { nextJobId } from '../support/job-records.js';
import { startEmulatorProcess, startMongoLane, type EmulatorProcess, type MongoLane } from '../support/mongo-lane.js';
import { runAuditLogConformance } from './audit-log.js';

// Short enough for the "database is gone" test to fail fast, long enough for a busy machine.
const BREAKABLE_SELECTION_TIMEOUT_MS = 1500;

describe('MongoDB audit log lane', function () {
  let lane: MongoLane | undefined;
  const databases: string[] = [];
  const logs: MongoAuditLog[] = [];
  const privateEmulators: EmulatorProcess[] = [];

  async function connect(): Promise<MongoAuditLog> {
    const database = lane!.newDatabaseName();
    databases.push(database);
    const log = await MongoAuditLog.connect({ uri: lane!.uri, database, appName: 'provenance-audit-conformance' });
    logs.push(log);
    return log;
  }

  // The suite's dispose closes what was opened before it ran; this closes what the tests after it open.
  after(async function () {
    for (const log of logs) await log.close();
  });

  before(async function () {
    lane = await startMongoLane();
  });

  after(async function () {
    await lane?.stop();
  });

  runAuditLogConformance({
    name: process.env.MONGODB_URI ? 'MongoDB (MONGODB_URI)' : 'MongoDB (jongodb emulator)',
    create: connect,
    async createBreakable() {
      // Killing a process is the only way to take a server away, so this log gets an emulator of its own.
      const emulator = await startEmulatorProcess();
      privateEmulators.push(emulator);
      const log = await MongoAuditLog.connect({
        uri: emulator.uri,
        database: 'breakable',
        serverSelectionTimeoutMS: BREAKABLE_SELECTION_TIMEOUT_MS,
      });
      logs.push(log);
      return { log, breakDatabase: () => emulator.stop() };
    },
    async dispose() {
      for (const log of logs) await log.close();
      for (const emulator of privateEmulators) await emulator.stop();
      for (const database of databases) await lane!.dropDatabase(database);
    },
  });

  describe('MongoAuditLog ids', function () {
    const realNow = Date.now;
    afterEach(() => {
      Date.now = realNow;
    });

    it('increase in append order while the clock stands still or goes back', async () => {
      const log = await connect();
      const tenant = nextJobId('tenant');
      const time = new Date(Date.UTC(2026, 4, 1));
      const clock = [5_000_000, 5_000_000, 5_000_000, 4_000_000, 4_000_000, 5_000_001, 3_000_000];
      const methods: string[] = [];
      for (const [i, ms] of clock.entries()) {
        Date.now = () => ms;
        methods.push(`/provenance.v1.ProvenanceService/Call${i}`);
        await log.append({ subject: 'alice', tenant, method: methods[i]!, jobIds: [], time, outcome: 'OK' });
      }
      Date.now = realNow;
      const listed = await log.list({ tenant, limit: 100 });
      expect(listed.map((item) => item.method)).to.deep.equal([...methods].reverse());
    });
  });
});
