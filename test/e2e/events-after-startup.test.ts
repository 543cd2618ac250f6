import type { ClientHttp2Session } from 'node:http2';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus } from '@provenance/client';
import { sleep, until } from '../support/waits.js';
import { sqliteLane, type StoreLane } from '../support/execution.js';
import { connect, type Client } from '../support/grpc-client.js';
import { connectHttp2Session, Http2Watch } from '../support/http2-watch.js';
import { scrapeMetrics, total } from '../support/prometheus.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { seededRandom } from '../support/seeded-random.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const RECORDED_EVENTS = ['job.provenance.created', 'compute.job.completed', 'job.provenance.completed'];

/**
 * Issue #19: a subscription that ends within the server's first second
 * (deadline or cancel) must not cost the next subscriber a single event.
 * The first call goes out the moment the server says it serves; calls are
 * plain HTTP/2 (Http2Watch), so a deadline is ended by the server alone.
 */
describe('WatchEvents right after start-up', function () {
  // Eight fresh servers in one test: a start alone took 10-20 s beside CPU-bound processes.
  this.timeout(480_000);
  let lane: StoreLane;
  let prefix: string;
  let server: ServerProcess | undefined;
  const sessions: ClientHttp2Session[] = [];
  const clients: Client[] = [];

  beforeEach(() => {
    lane = sqliteLane();
    prefix = uniqueQueuePrefix();
  });
  afterEach(async () => {
    for (const session of sessions.splice(0)) session.destroy();
    for (const client of clients.splice(0)) client.close();
    await server?.stop('SIGKILL');
    server = undefined;
    await deleteQueueKeys(prefix);
    await lane.dispose();
  });

  /** A fresh server on the same store and Redis prefix, with its first HTTP/2 session already connected. */
  async function freshServer(): Promise<{ session: ClientHttp2Session; api: Client }> {
    await server?.stop('SIGKILL');
    server = await startServer({ ...(await lane.env()), PROVENANCE_REDIS_PREFIX: prefix });
    const session = await connectHttp2Session(server.address);
    sessions.push(session);
    const api = connect(server.address);
    clients.push(api);
    return { session, api };
  }

  const subscribers = async () => total(await scrapeMetrics(server!.httpAddress), 'provenance_event_subscribers');

  /**
   * Records the jobs with the pauses before each, then one more job, and checks that the watch got the events of
   * all of them, each once and in order, and nothing else: the last job's events arriving after everything before
   * them shows that nothing else was coming.
   */
  async function expectEveryEvent(api: Client, watch: Http2Watch, pausesMs: readonly number[]): Promise<void> {
    const jobIds: string[] = [];
    for (const pause of [...pausesMs, 0]) {
      await sleep(pause);
      jobIds.push((await api.recordJob({ type: 'step', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: `h${jobIds.length}` })).jobId);
    }
    const expected = jobIds.flatMap((jobId) => RECORDED_EVENTS.map((type) => `${type} ${jobId}`));
    const last = jobIds.at(-1)!;
    await watch.until(() => watch.events.filter((e) => e.jobId === last).length === RECORDED_EVENTS.length, 20_000);
    expect(watch.events.map((e) => `${e.type} ${e.jobId}`)).to.deep.equal(expected);
    const cursors = watch.events.map((e) => e.cursor);
    expect(new Set(cursors).size).to.equal(cursors.length);
  }

  it('ends a first subscription at its deadline with DEADLINE_EXCEEDED, and a second one gets every later event once', async () => {
    const { session, api } = await freshServer();
    const first = new Http2Watch(session, {}, { timeoutMs: 1500 });
    // No timer of the client's own: only the server can end this call.
    const firstEnd = await Promise.race([first.ended, sleep(30_000).then(() => undefined)]);
    expect(firstEnd, 'the server did not end the call at its deadline').not.to.equal(undefined);
    expect(firstEnd!.code).to.equal(status.DEADLINE_EXCEEDED);

    const second = new Http2Watch(session, {});
    await second.registered;
    await until(async () => (await subscribers()) === 1, 'the first subscription to be released and the second counted', 20_000);
    // One pause longer than the reader's blocking read (5 s), so that the reader also waits out a whole read in between.
    await expectEveryEvent(api, second, [300, 300, 5_500, 300, 300, 300]);
    second.cancel();
  });

  it('gives the second subscriber every event when the first is cancelled at a random moment, on a fresh server each round', async () => {
    const random = seededRandom('EVENTS_STARTUP_SEED', 'start-up rounds');
    const endings = ['cancelled in the same write', 'cancelled after a random 0-20 ms', 'cancelled once registered', 'ended by a short deadline'] as const;
    for (let round = 0; round < 8; round++) {
      const ending = endings[round % endings.length]!;
      const { session, api } = await freshServer();
      const first = new Http2Watch(session, {}, ending === 'ended by a short deadline' ? { timeoutMs: random.int(1, 300) } : {});
      if (ending === 'cancelled in the same write') first.cancel();
      else if (ending === 'cancelled after a random 0-20 ms') {
        await sleep(random.int(0, 20));
        first.cancel();
      } else if (ending === 'cancelled once registered') {
        await first.registered;
        first.cancel();
      }
      await first.ended;

      const second = new Http2Watch(session, {});
      await second.registered;
      const pauses = Array.from({ length: 3 }, () => random.int(0, 200));
      try {
        await expectEveryEvent(api, second, pauses);
      } catch (error) {
        throw new Error(`round ${round} (first subscription ${ending}, pauses ${pauses.join(', ')} ms): ${(error as Error).message}`);
      }
      second.cancel();
      await until(async () => (await subscribers()) === 0, 'every subscription to be released', 20_000);
    }
  });
});
