import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { pino } from 'pino';
import { openRuntime, type Runtime } from '../../src/composition.js';
import { loadConfig } from '../../src/config/config.js';
import { principalOf } from '../../src/grpc/principal-metadata.js';
import { serverSecurity } from '../../src/grpc/security.js';
import { JobStatus } from '@provenance/client';
import { StartPosition } from '@provenance/client';
import { WatchEventsRequest } from '@provenance/client';
import { startGrpcServer, type RunningServer } from '../../src/grpc/server.js';
import { connect, type Client } from '../support/grpc-client.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Resources of this process by kind (timers, sockets, …), as Node counts them. */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

const SETTLE_DEADLINE_MS = 30_000;

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((key) => a[key] === b[key]);
}

/** Runs in this process, so that the server's own subscribers, timers and heap can be looked at. */
describe('WatchEvents subscribe/cancel cycles', function () {
  this.timeout(120_000);
  const prefix = uniqueQueuePrefix();
  const directory = mkdtempSync(join(tmpdir(), 'provenance-leaks-'));
  let runtime: Runtime;
  let server: RunningServer;
  let api: Client;

  before(async () => {
    const config = loadConfig({
      PROVENANCE_GRPC_ADDRESS: '127.0.0.1:0',
      PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'),
      PROVENANCE_REDIS_PREFIX: prefix,
      PROVENANCE_IN_PROCESS_WORKERS: 'false',
      PROVENANCE_EVENT_RELAY_INTERVAL_MS: '0',
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    });
    const logger = pino({ level: 'silent' });
    runtime = await openRuntime(config, logger);
    runtime.hub.start();
    server = await startGrpcServer(
      { address: config.grpcAddress, ...serverSecurity(config, logger), maxMessageBytes: config.maxMessageBytes, maxRequestFields: config.maxRequestFields, shutdownGraceMs: 1000, healthCheckIntervalMs: 60_000 },
      { service: runtime.service, logger, principalOf },
    );
    api = connect(server.address);
    await api.recordJob({ type: 'seed', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' });
  });
  after(async () => {
    api?.close();
    await server?.shutdown();
    await runtime?.close(1000);
    await deleteQueueKeys(prefix);
    rmSync(directory, { recursive: true, force: true });
  });

  let cycles = 0;
  async function cycle(): Promise<void> {
    // Node's HTTP/2 guard against rapid stream resets (CVE-2023-44487) stops a session that cancels
    // streams this fast; a fresh connection every 100 cycles keeps the test a test of the server.
    if (++cycles % 100 === 0) {
      api.close();
      api = connect(server.address);
    }
    const stream = api.events({ startPosition: StartPosition.START_POSITION_OLDEST });
    // Cancelling makes the stream emit CANCELLED, which is the expected end here.
    stream.on('error', () => undefined);
    const ended = new Promise((resolve) => stream.once('close', resolve));
    await new Promise((resolve) => stream.once('data', resolve));
    stream.cancel();
    await ended;
  }

  /**
   * Waits, with a deadline generous for a busy machine, until no subscriber
   * is left and, given the resources of an earlier state, until those are
   * back to them (a cancelled call's timers and sockets close a few turns
   * after the call ends); then looks. Without an earlier state (a baseline),
   * it lets those few turns pass first.
   */
  async function settledState(earlier?: { resources: Record<string, number> }) {
    const settled = () => runtime.hub.subscriberCount === 0 && (!earlier || sameCounts(activeResources(), earlier.resources));
    for (const deadline = Date.now() + SETTLE_DEADLINE_MS; !settled() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
    if (!earlier) await new Promise((resolve) => setTimeout(resolve, 100));
    collectGarbage();
    return { subscribers: runtime.hub.subscriberCount, resources: activeResources(), heap: process.memoryUsage().heapUsed };
  }

  it('release a subscription when its deadline passes', async () => {
    const stream = api.raw.watchEvents(WatchEventsRequest.fromPartial({}), { deadline: Date.now() + 3000 });
    const failed = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
    // The headers come once the subscription is registered.
    const registered = new Promise<true>((resolve) => stream.once('metadata', () => resolve(true)));
    expect(await Promise.race([registered, failed.then(() => false)]), 'the subscription registered before its deadline').to.equal(true);
    expect(runtime.hub.subscriberCount).to.equal(1);
    expect((await failed).code).to.equal(status.DEADLINE_EXCEEDED);
    const { subscribers } = await settledState();
    expect(subscribers).to.equal(0);
  });

  it('leave no subscribers, timers, handles or heap behind after 1,000 cycles', async () => {
    for (let i = 0; i < 100; i++) await cycle();
    const before = await settledState();
    for (let i = 0; i < 1000; i++) await cycle();
    const after = await settledState(before);
    expect(after.subscribers).to.equal(0);
    expect(after.resources).to.deep.equal(before.resources);
    expect(after.heap - before.heap, `heap grew from ${before.heap} to ${after.heap} bytes`).to.be.below(before.heap * 0.05 + 1_000_000);
  });
});
