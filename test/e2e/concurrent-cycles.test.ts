import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus, type RecordJobRequest, type DeepPartial } from '@provenance/client';
import { connect, decodeStatus, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { nextJobId } from '../support/job-records.js';
import { startMongoLane, type MongoLane } from '../support/mongo-lane.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

/**
 * Two server processes on one database, each sent one half of thousands of
 * cycle-closing pairs at the same moment: X naming a missing Y
 * (allow_missing_parents) to one, Y naming X to the other, by RecordJob or
 * by a single-record BatchRecordJobs. Exactly one of each pair may be
 * stored, the other refused as LINEAGE_CYCLE; then the stored graph is
 * walked for cycles. PROVENANCE_TEST_CYCLE_PAIRS sets a larger count.
 */

const PAIRS_IN_FLIGHT = 16;

interface Lane {
  name: string;
  pairs: number;
  /** Two servers on one database and one Redis prefix. */
  start(): Promise<[ServerProcess, ServerProcess]>;
  dispose(): Promise<void>;
}

const sqliteDirectory = mkdtempSync(join(tmpdir(), 'provenance-cycles-'));
const redisPrefix = uniqueQueuePrefix();
let mongo: MongoLane | undefined;

const lanes: Lane[] = [
  {
    name: 'SQLite',
    pairs: 2000,
    async start() {
      const env = { PROVENANCE_SQLITE_PATH: join(sqliteDirectory, 'provenance.db'), PROVENANCE_REDIS_PREFIX: `${redisPrefix}:sqlite` };
      // One after the other: the first creates the schema.
      const first = await startServer(env);
      return [first, await startServer(env)];
    },
    async dispose() {
      rmSync(sqliteDirectory, { recursive: true, force: true });
    },
  },
  {
    name: process.env.MONGODB_URI ? 'MongoDB' : 'MongoDB emulator',
    // The emulator scans a collection for each query, so its calls slow down as the test fills it: 1,000 pairs take it about 35 s.
    pairs: process.env.MONGODB_URI ? 2000 : 500,
    async start() {
      mongo = await startMongoLane();
      const env = { MONGODB_URI: mongo.uri, PROVENANCE_MONGODB_DATABASE: mongo.newDatabaseName(), PROVENANCE_REDIS_PREFIX: `${redisPrefix}:mongo` };
      const first = await startServer(env);
      return [first, await startServer(env)];
    },
    dispose: async () => mongo?.stop(),
  },
];

type Sent = { ok: true } | { ok: false; code: number; reason: string | undefined };

for (const lane of lanes) {
  describe(`Cycle-closing writes sent at once to two server processes on one database (${lane.name})`, function () {
    this.timeout(300_000);
    const pairs = Number(process.env.PROVENANCE_TEST_CYCLE_PAIRS ?? lane.pairs);
    let servers: ServerProcess[] = [];
    let clients: Client[] = [];

    before(async () => {
      servers = await lane.start();
      clients = servers.map((server) => connect(server.address));
    });
    after(async () => {
      for (const client of clients) client.close();
      for (const server of servers) await server.stop();
      await deleteQueueKeys(redisPrefix);
      await lane.dispose();
    });

    /** RecordJob, or BatchRecordJobs with this one record, its result read as RecordJob's would be. */
    async function send(client: Client, request: DeepPartial<RecordJobRequest>, asBatch: boolean): Promise<Sent> {
      try {
        if (!asBatch) await client.recordJob(request);
        else {
          const [result] = (await client.batchRecordJobs({ requests: [request] })).results;
          if (result!.status!.code !== status.OK) return { ok: false, code: result!.status!.code, reason: decodeStatus(result!.status!).errorInfo?.reason };
        }
        return { ok: true };
      } catch (error) {
        return { ok: false, code: (error as ServiceError).code, reason: statusDetails(error).errorInfo?.reason };
      }
    }

    it(`stores one record of each pair and refuses the other as a cycle, leaving no cycle stored`, async () => {
      const tag = nextJobId('pair');
      const run = tag.replace(/[^a-z0-9_-]/g, '_');
      const stored: string[] = [];
      const problems: string[] = [];
      let next = 0;
      const runPairs = async () => {
        for (let i = next++; i < pairs; i = next++) {
          const x = `${tag}-x${i}`;
          const y = `${tag}-y${i}`;
          const request = (jobId: string, parent: string): DeepPartial<RecordJobRequest> => ({
            jobId,
            type: 'pair',
            parentJobIds: [parent],
            allowMissingParents: true,
            status: JobStatus.JOB_STATUS_SUCCEEDED,
            outputHash: `out-${jobId}`,
            labels: { run },
          });
          // Each pair alternates the server that gets X, and RecordJob with a one-record batch.
          const [xClient, yClient] = i % 2 === 0 ? clients : [clients[1]!, clients[0]!];
          const asBatch = i % 4 >= 2;
          const [sentX, sentY] = await Promise.all([send(xClient!, request(x, y), asBatch), send(yClient!, request(y, x), asBatch)]);
          const refused = [sentX, sentY].filter((sent) => !sent.ok);
          const cycleRefusal = refused.length === 1 && refused[0]!.ok === false && refused[0]!.code === status.FAILED_PRECONDITION && refused[0]!.reason === 'LINEAGE_CYCLE';
          if (!cycleRefusal) problems.push(`pair ${i}: ${JSON.stringify([sentX, sentY])}`);
          stored.push(...(sentX.ok ? [x] : []), ...(sentY.ok ? [y] : []));
        }
      };
      await Promise.all(Array.from({ length: PAIRS_IN_FLIGHT }, runPairs));
      expect(problems.slice(0, 10), `${problems.length} of ${pairs} pairs not answered one stored, one LINEAGE_CYCLE`).to.deep.equal([]);

      // What the answers say must be what is stored: one record per pair. Pair records name only each other, so no cycle.
      const listed = new Set<string>();
      let pageToken = '';
      do {
        const page = await clients[0]!.listJobs({ filter: `labels.run = "${run}"`, pageSize: 1000, pageToken });
        for (const job of page.jobs) listed.add(job.jobId);
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect([...listed].sort()).to.deep.equal([...stored].sort());
      for (let i = 0; i < pairs; i++) {
        expect([`${tag}-x${i}`, `${tag}-y${i}`].filter((jobId) => listed.has(jobId)), `pair ${i}`).to.have.length(1);
      }
      expect(stored).to.have.length(pairs);
    });

    it('refuses SubmitJob of a client-chosen id that a recorded job names, when its parents would close a cycle', async () => {
      const tag = nextJobId('submit');
      const [first, second] = clients;
      await first!.recordJob({ jobId: `${tag}-x`, type: 'pair', parentJobIds: [`${tag}-y`], allowMissingParents: true, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'out' });
      const error = await failure(second!.submitJob({ jobId: `${tag}-y`, type: 'echo', parentJobIds: [`${tag}-x`] }));
      expect(error.code).to.equal(status.FAILED_PRECONDITION);
      const details = statusDetails(error);
      expect(details.errorInfo?.reason).to.equal('LINEAGE_CYCLE');
      expect(details.preconditionFailure?.violations[0]?.description).to.equal(`${tag}-y → ${tag}-x → ${tag}-y`);
      expect((await failure(first!.getJob({ jobId: `${tag}-y` }))).code).to.equal(status.NOT_FOUND);
    });
  });
}
