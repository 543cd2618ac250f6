import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { JobStatus, ProvenanceClient, WatchEventsRequest } from '@provenance/client';
import { sleep, until } from '../support/waits.js';
import { makeApiKey, makeTemporaryDirectory, sha256Hex, type TemporaryDirectory } from '../support/credentials.js';
import { sqliteLane, type StoreLane } from '../support/execution.js';
import { connect, type Client } from '../support/grpc-client.js';
import { scrapeMetrics, total } from '../support/prometheus.js';
import { RawHttp2Connection, type RawStream } from '../support/raw-http2.js';
import { seededRandom, type SeededRandom } from '../support/seeded-random.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const WATCH_EVENTS = '/provenance.v1.ProvenanceService/WatchEvents';
const REQUEST = WatchEventsRequest.encode(WatchEventsRequest.fromPartial({})).finish();

/**
 * Issue #12 item 6: a WatchEvents subscription is released however its call
 * ends, before or after it is registered, whatever order grpc-js learns of
 * it in. Thousands of calls through the wire, ended at random moments while
 * events flow, must leave provenance_event_subscribers at 0.
 */
describe('WatchEvents subscriptions are released however their call ends', function () {
  this.timeout(240_000);
  let lane: StoreLane;
  let directory: TemporaryDirectory;
  let server: ServerProcess | undefined;
  let spinner: ChildProcess | undefined;

  beforeEach(async () => {
    lane = sqliteLane();
    directory = await makeTemporaryDirectory();
  });
  afterEach(async () => {
    spinner?.kill();
    spinner = undefined;
    await server?.stop();
    server = undefined;
    await lane.dispose();
    await directory.remove();
  });

  /** With authentication configured, /metrics needs an operator's credential: headers carry it. */
  const subscribers = async (headers: Record<string, string> = {}) => total(await scrapeMetrics(server!.httpAddress, headers), 'provenance_event_subscribers');

  /** Writes jobs (10 a call, 30 events, 20 calls a second at most) until stopped: the live events every open subscription gets. */
  function flowEvents(api: Client): { stop(): Promise<void> } {
    let flowing = true;
    const writing = (async () => {
      while (flowing) {
        await Promise.all([
          api.batchRecordJobs({ requests: Array.from({ length: 10 }, (_, i) => ({ type: 'flow', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: `f${i}` })) }),
          sleep(50),
        ]);
      }
    })();
    return {
      async stop() {
        flowing = false;
        await writing;
      },
    };
  }

  async function cycles(options: { headers: Record<string, string>; seedVariable: string }): Promise<void> {
    const random = seededRandom(options.seedVariable, 'release cycles');
    const api = connect(server!.address, { headers: options.headers });
    const flow = flowEvents(api);
    const counts: Record<string, number> = {};
    const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
    try {
      await Promise.all([
        ...Array.from({ length: 4 }, () => rawSession(server!.address, 300, random, options.headers, count)),
        ...Array.from({ length: 2 }, () => grpcJsSession(server!.address, 200, random, options.headers, count)),
      ]);
    } finally {
      await flow.stop();
      api.close();
    }
    console.log(`      ${JSON.stringify(counts)}`);
    // Calls were registered (answered with headers) in every way there is to end them.
    for (const kind of ['raw: cancelled once registered', 'raw: cancelled mid-stream', 'raw: connection dropped', 'raw: deadline', 'grpc-js: cancelled once registered', 'grpc-js: cancelled mid-stream']) {
      expect(counts[`${kind} (registered)`] ?? 0, kind).to.be.above(0);
    }
    await until(async () => (await subscribers(options.headers)) === 0, 'provenance_event_subscribers back at 0', 60_000);
  }

  it('after thousands of calls ended at random moments (raw HTTP/2 and grpc-js) while events flow', async () => {
    server = await startServer({ ...(await lane.env()), PROVENANCE_IN_PROCESS_WORKERS: 'false' });
    await cycles({ headers: {}, seedVariable: 'RELEASE_SEED' });
  });

  it('the same with API keys (an asynchronous interceptor before the handler) and a CPU-bound process beside the server', async () => {
    const key = makeApiKey();
    const keysFile = await directory.write('api-keys.json', JSON.stringify([{ id: 'watcher', sha256: sha256Hex(key), subject: 'watcher', tenant: 'default', roles: ['admin', 'operator'] }]));
    server = await startServer({
      ...(await lane.env()),
      PROVENANCE_IN_PROCESS_WORKERS: 'false',
      PROVENANCE_API_KEYS_FILE: keysFile,
      PROVENANCE_RATE_LIMIT: '0',
      // Calls leaked by the grpc-js client (see grpcJsSession) stay open until their deadline: the cap must not refuse the cycles meanwhile.
      PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '100000',
    });
    spinner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    await cycles({ headers: { 'x-api-key': key }, seedVariable: 'RELEASE_AUTH_SEED' });
  });

  it('at its deadline, also when the client reads nothing and HTTP/2 flow control holds the status back', async () => {
    server = await startServer({ ...(await lane.env()), PROVENANCE_IN_PROCESS_WORKERS: 'false' });
    const api = connect(server.address);
    const connection = await RawHttp2Connection.connect(server.address, { readsNothing: true });
    try {
      const stream = connection.openStream();
      // Long enough for the writes below to fill the window first on a busy machine.
      connection.write(...stream.grpcRequest(WATCH_EVENTS, REQUEST, { 'grpc-timeout': '10S' }));
      await stream.headers;
      expect(await subscribers()).to.equal(1);
      // Far more than the 64 KiB the client's window lets through (each event is about 250 bytes): the rest waits in the server.
      for (let i = 0; i < 4; i++) {
        await api.batchRecordJobs({ requests: Array.from({ length: 100 }, () => ({ type: 'fill', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'f' })) });
      }
      await until(() => stream.dataBytes >= 60_000, 'the client window to fill', 20_000);
      await until(async () => (await subscribers()) === 0, 'the subscription to be released at its deadline', 30_000);
    } finally {
      connection.close();
      api.close();
    }
  });
});

/** Whether the promise settles within ms. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([promise.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return settled;
}

/**
 * Plain HTTP/2 calls on one connection (another when the server closes it:
 * it sends GOAWAY to a client that resets streams this fast), each ended one
 * of these ways, at random.
 */
async function rawSession(address: string, calls: number, random: SeededRandom, headers: Record<string, string>, count: (what: string) => void): Promise<void> {
  let connection = await RawHttp2Connection.connect(address);
  const open = new Set<RawStream>();
  try {
    for (let i = 0; i < calls; i++) {
      if (connection.isClosed) {
        open.clear();
        connection = await RawHttp2Connection.connect(address);
      }
      const stream = connection.openStream();
      const kind = random.pick(['sent with its cancel in one write', 'cancelled after 0-20 ms', 'cancelled once registered', 'cancelled mid-stream', 'connection dropped', 'deadline'] as const);
      const deadline: Record<string, string> = kind === 'deadline' ? { 'grpc-timeout': `${random.int(1, 50)}m` } : {};
      const request = stream.grpcRequest(WATCH_EVENTS, REQUEST, { ...headers, ...deadline });
      if (kind === 'sent with its cancel in one write') connection.write(...request, stream.cancelFrame());
      else {
        connection.write(...request);
        if (kind === 'cancelled after 0-20 ms') await sleep(random.int(0, 20));
        else if (kind === 'cancelled once registered') await Promise.race([stream.headers, stream.end]);
        else if (kind === 'cancelled mid-stream') await Promise.race([stream.data, stream.end]);
        else if (kind === 'connection dropped') {
          open.add(stream);
          // Dropped with a few registered calls on it, now and then.
          if (open.size < 3) continue;
          await Promise.all([...open].map((s) => Promise.race([s.headers, s.end])));
          for (const s of open) if (s.gotHeaders) count(`raw: ${kind} (registered)`);
          open.clear();
          connection.close();
          continue;
        } else if (!(await settlesWithin(stream.end, 20_000))) throw new Error('the server did not end a call at its deadline');
        if (kind !== 'deadline') connection.write(stream.cancelFrame());
      }
      count(`raw: ${kind}`);
      if (stream.gotHeaders) count(`raw: ${kind} (registered)`);
    }
  } finally {
    connection.close();
  }
}

/**
 * grpc-js calls on a client of their own (its own connection), cancelled at
 * random moments. A call cancelled in the same tick as it is made may still
 * go out and stay open (grpc-js 1.14's resolving call starts its child after
 * a cancel), and the client never reads it: only the server can end it, so
 * every call has a deadline, which the server enforces even on a call that
 * stopped reading.
 */
async function grpcJsSession(address: string, calls: number, random: SeededRandom, headers: Record<string, string>, count: (what: string) => void): Promise<void> {
  const newClient = () => new ProvenanceClient({ address, metadata: headers, channelOptions: { 'grpc.use_local_subchannel_pool': 1 } });
  let client = newClient();
  try {
    for (let i = 0; i < calls; i++) {
      // A fresh connection now and then: the server's guard against rapid resets closes a connection that cancels this much.
      if (i % 100 === 99) {
        client.close();
        client = newClient();
      }
      const call = client.raw.watchEvents(WatchEventsRequest.fromPartial({}), { deadline: Date.now() + 3_000 });
      let registered = false;
      call.on('metadata', () => (registered = true));
      const ended = new Promise((resolve) => {
        call.on('error', resolve);
        call.on('end', resolve);
      });
      const kind = random.pick(['cancelled in the same tick', 'cancelled after 0-20 ms', 'cancelled once registered', 'cancelled mid-stream'] as const);
      if (kind === 'cancelled after 0-20 ms') await sleep(random.int(0, 20));
      else if (kind === 'cancelled once registered') await Promise.race([new Promise((resolve) => call.once('metadata', resolve)), ended]);
      else if (kind === 'cancelled mid-stream') await Promise.race([new Promise((resolve) => call.once('data', resolve)), ended]);
      call.cancel();
      count(`grpc-js: ${kind}`);
      if (registered) count(`grpc-js: ${kind} (registered)`);
    }
  } finally {
    client.close();
  }
}
