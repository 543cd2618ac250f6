import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata, Server, ServerCredentials, status, type ClientReadableStream, type ServerWritableStream, type StatusObject } from '@grpc/grpc-js';
import {
  JobStatus,
  ProvenanceClient,
  ProvenanceClientError,
  StartPosition,
  type EventWatch,
  ProvenanceEvent,
  type ProvenanceClientOptions,
  type Resumption,
  type WatchEventsResponse,
} from '@provenance/client';
import { ErrorInfo, RetryInfo } from '@provenance/client/gen/google/rpc/error_details';
import { Status } from '@provenance/client/gen/google/rpc/status';
import { ProvenanceServiceService, type WatchEventsRequest } from '@provenance/client/gen/provenance/v1/provenance_service';
import { expect } from 'chai';
import { makeTemporaryDirectory, type TemporaryDirectory } from '../support/credentials.js';
import { startRedisServer, type RedisServerProcess } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { scrapeMetrics, total } from '../support/prometheus.js';
import { until } from '../support/waits.js';

const SUCCEEDED = JobStatus.JOB_STATUS_SUCCEEDED;
const typesOf = (events: ProvenanceEvent[], jobId: string) => events.filter((e) => e.jobId === jobId).map((e) => e.type);
const RECORDED = ['job.provenance.created', 'compute.job.completed', 'job.provenance.completed'];

/** Reads count events from the watch, then leaves it (which cancels its call). */
async function take(watch: EventWatch, count: number): Promise<ProvenanceEvent[]> {
  const events: ProvenanceEvent[] = [];
  if (count === 0) return events;
  for await (const event of watch) {
    events.push(event);
    if (events.length === count) break;
  }
  return events;
}

/** Takes count events with next(), leaving the watch open (a for-await loop left with break closes it). */
async function takeKeepingOpen(watch: EventWatch, count: number): Promise<ProvenanceEvent[]> {
  const events: ProvenanceEvent[] = [];
  while (events.length < count) {
    const result = await watch.next();
    if (result.done) break;
    events.push(result.value);
  }
  return events;
}

/** The error the watch's iteration throws. */
async function thrownBy(watch: EventWatch): Promise<ProvenanceClientError> {
  try {
    for await (const event of watch) throw new Error(`expected no event, got ${event.type}`);
  } catch (error) {
    expect(error).to.be.instanceOf(ProvenanceClientError);
    return error as ProvenanceClientError;
  }
  throw new Error('the watch ended without an error');
}

/** Records the raw calls a client makes for its watches, and how each ended. */
function recordCalls(client: ProvenanceClient): Array<Promise<StatusObject>> {
  const ends: Array<Promise<StatusObject>> = [];
  const open = client.raw.watchEvents.bind(client.raw) as (...args: unknown[]) => ClientReadableStream<WatchEventsResponse>;
  client.raw.watchEvents = ((...args: unknown[]) => {
    const call = open(...args);
    ends.push(new Promise((resolve) => call.once('status', resolve)));
    return call;
  }) as typeof client.raw.watchEvents;
  return ends;
}

/** One WatchEvents call of a script: the headers (which the service sends once it has registered a subscription), events, then how it ends. */
interface ScriptedCall {
  registered?: boolean;
  cursors?: string[];
  /** The status the call ends with; OK when absent. */
  end?: status;
  /** The ErrorInfo reason of the ending status, in domain provenance.v1 unless domain says otherwise; no status details when absent. */
  reason?: string;
  domain?: string;
  /** A RetryInfo delay in the ending status. */
  retryDelayMs?: number;
}

/** The trailers of a scripted ending: the google.rpc.Status the service sends, with the step's ErrorInfo and RetryInfo. */
function statusTrailers(step: ScriptedCall): Metadata {
  const trailers = new Metadata();
  if (step.reason === undefined) return trailers;
  const details = [
    { typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from(ErrorInfo.encode({ reason: step.reason, domain: step.domain ?? 'provenance.v1', metadata: {} }).finish()) },
  ];
  if (step.retryDelayMs !== undefined) {
    const retryDelay = { seconds: String(Math.floor(step.retryDelayMs / 1000)), nanos: (step.retryDelayMs % 1000) * 1e6 };
    details.push({ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: Buffer.from(RetryInfo.encode({ retryDelay }).finish()) });
  }
  trailers.set('grpc-status-details-bin', Buffer.from(Status.encode({ code: step.end!, message: 'scripted ending', details }).finish()));
  return trailers;
}

/** A server whose WatchEvents answers each call with the next step of the script. */
async function serveScript(steps: ScriptedCall[]): Promise<{ address: string; requests: WatchEventsRequest[]; stop: () => void }> {
  const requests: WatchEventsRequest[] = [];
  const server = new Server();
  server.addService(ProvenanceServiceService, {
    watchEvents: (call: ServerWritableStream<WatchEventsRequest, WatchEventsResponse>) => {
      requests.push(call.request);
      const step = steps.shift() ?? { end: status.FAILED_PRECONDITION };
      if (step.registered) call.sendMetadata(new Metadata());
      for (const cursor of step.cursors ?? []) call.write({ event: ProvenanceEvent.fromPartial({ cursor }) });
      if (step.end === undefined) call.end();
      else call.emit('error', { code: step.end, details: 'scripted ending', metadata: statusTrailers(step) });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { address: `127.0.0.1:${port}`, requests, stop: () => server.forceShutdown() };
}

describe('@provenance/client watchEvents resuming, against a scripted server', function () {
  const QUICK = { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 10 };
  let scripted: Awaited<ReturnType<typeof serveScript>> | undefined;
  const cleanups: Array<() => void> = [];
  const watchScript = async (steps: ScriptedCall[], resumptions: Resumption[]) => {
    scripted = await serveScript(steps);
    const client = new ProvenanceClient({ address: scripted.address });
    cleanups.push(scripted.stop, () => client.close());
    return client.watchEvents({ jobIds: ['j'] }, { resume: QUICK, onResume: (r) => resumptions.push(r), timeoutMs: 20_000 });
  };
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it('counts failed attempts again after each call the server registered, though no event came', async () => {
    // A server restart as the watch sees it: the server ends a subscription it had registered,
    // then refuses one attempt while it is down. Four of them, with at most two failed attempts in a row.
    const restart: ScriptedCall[] = [{ registered: true, end: status.UNAVAILABLE }, { end: status.UNAVAILABLE }];
    const resumptions: Resumption[] = [];
    const watch = await watchScript([...restart, ...restart, ...restart, ...restart, { cursors: ['8-0'] }], resumptions);
    const cursors: string[] = [];
    for await (const event of watch) cursors.push(event.cursor);
    expect(cursors).to.deep.equal(['8-0']);
    expect(resumptions.map((r) => r.attempt)).to.deep.equal([1, 2, 1, 2, 1, 2, 1, 2]);
  });

  it('throws the error once maxAttempts resumptions in a row failed before being registered', async () => {
    const resumptions: Resumption[] = [];
    const refused: ScriptedCall = { end: status.UNAVAILABLE };
    const watch = await watchScript([{ cursors: ['1-0'], end: status.UNAVAILABLE }, refused, refused, refused], resumptions);
    expect((await watch.next()).value).to.include({ cursor: '1-0' });
    expect((await thrownBy(watch)).code).to.equal(status.UNAVAILABLE);
    expect(scripted!.requests).to.have.length(3);
    expect(resumptions.map((r) => [r.attempt, r.request.afterCursor])).to.deep.equal([
      [1, '1-0'],
      [2, '1-0'],
    ]);
  });

  it('resumes RESOURCE_EXHAUSTED for a subscriber too slow and for a rate limit, after the RetryInfo delay', async () => {
    const resumptions: Resumption[] = [];
    const watch = await watchScript(
      [
        { cursors: ['1-0'], end: status.RESOURCE_EXHAUSTED, reason: 'SUBSCRIBER_TOO_SLOW' },
        { end: status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED', retryDelayMs: 7 },
        { cursors: ['2-0'] },
      ],
      resumptions,
    );
    const cursors: string[] = [];
    for await (const event of watch) cursors.push(event.cursor);
    expect(cursors).to.deep.equal(['1-0', '2-0']);
    expect(resumptions.map((r) => [r.error.reason, r.request.afterCursor])).to.deep.equal([
      ['SUBSCRIBER_TOO_SLOW', '1-0'],
      ['RATE_LIMITED', '1-0'],
    ]);
    expect(resumptions[1]!.delayMs).to.equal(7);
  });

  it('throws, without resuming, a RESOURCE_EXHAUSTED that another subscription cannot get past, and a DEADLINE_EXCEEDED', async () => {
    const endings: ScriptedCall[] = [
      // The principal holds the most subscriptions: another one adds pressure and hides the caller's leak.
      { end: status.RESOURCE_EXHAUSTED, reason: 'TOO_MANY_SUBSCRIPTIONS' },
      { end: status.RESOURCE_EXHAUSTED, reason: 'AUTHENTICATION_THROTTLED', retryDelayMs: 5 },
      { end: status.RESOURCE_EXHAUSTED, reason: 'BODY_TOO_LARGE' },
      // A reason is only known within its domain: another service's "SUBSCRIBER_TOO_SLOW" is not ours.
      { end: status.RESOURCE_EXHAUSTED, reason: 'SUBSCRIBER_TOO_SLOW', domain: 'proxy.example.com' },
      // No ErrorInfo at all, as gRPC's own refusals (a message over the size limit) come.
      { end: status.RESOURCE_EXHAUSTED },
      { end: status.DEADLINE_EXCEEDED },
    ];
    for (const ending of endings) {
      const resumptions: Resumption[] = [];
      // The second step would succeed: only a watch that resumed would see its event.
      const watch = await watchScript([{ cursors: ['1-0'], ...ending }, { cursors: ['2-0'] }], resumptions);
      expect((await watch.next()).value).to.include({ cursor: '1-0' });
      const thrown = await thrownBy(watch);
      const label = `${status[ending.end!]} ${ending.reason ?? 'without details'} ${ending.domain ?? ''}`;
      expect([thrown.code, thrown.reason], label).to.deep.equal([ending.end, ending.reason]);
      expect(resumptions, label).to.deep.equal([]);
      expect(scripted!.requests, label).to.have.length(1);
    }
  });
});

describe('@provenance/client watchEvents against a live server', function () {
  this.timeout(60_000);
  let directory: TemporaryDirectory;
  const servers: ServerProcess[] = [];
  const clients: ProvenanceClient[] = [];
  /** channelOptions: e.g. a small HTTP/2 window, for a client meant to fall behind. */
  const start = async (env: Record<string, string> = {}, channelOptions?: ProvenanceClientOptions['channelOptions']) => {
    const server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory.path, `p${servers.length}.db`), ...env });
    servers.push(server);
    const client = new ProvenanceClient({ address: server.address, timeoutMs: 10_000, ...(channelOptions ? { channelOptions } : {}) });
    clients.push(client);
    return client;
  };

  before(async () => {
    directory = await makeTemporaryDirectory('ts-client-events-');
  });
  const stopAll = async () => {
    for (const client of clients.splice(0)) client.close();
    for (const server of servers.splice(0)) await server.stop();
  };
  afterEach(stopAll);
  after(async () => {
    await directory?.remove();
  });

  it('opens its call when created, before it is read, and says when it is subscribed: a job submitted then is seen from its first event', async () => {
    const client = await start();
    const watch = client.watchEvents({ jobIds: ['watched'] });
    await watch.subscribed();
    await client.submitJob({ jobId: 'watched', type: 'echo', payload: { msg: 'hi' } });
    const types: string[] = [];
    for await (const event of watch) {
      types.push(event.type);
      if (event.type === 'job.provenance.completed') break;
    }
    expect(types).to.deep.equal(['compute.job.submitted', 'job.provenance.created', 'compute.job.started', 'compute.job.completed', 'job.provenance.completed']);
  });

  it('cancels its call when the consumer leaves the loop, and when it is closed before being read', async () => {
    const client = await start();
    const ends = recordCalls(client);
    await client.recordJob({ jobId: 'one', type: 'echo', status: SUCCEEDED, outputHash: 'h' });
    expect(await take(client.watchEvents({ startPosition: StartPosition.START_POSITION_OLDEST }), 1)).to.have.length(1);
    client.watchEvents({}).close();
    const statuses = await Promise.all(ends);
    expect(statuses.map((s) => s.code)).to.deep.equal([status.CANCELLED, status.CANCELLED]);
  });

  it('resolves a pending next() as done when closed, and throws CANCELLED when its signal aborts', async () => {
    const client = await start();
    const closed = client.watchEvents({});
    await closed.subscribed();
    const pending = closed.next();
    closed.close();
    expect(await pending).to.deep.equal({ done: true, value: undefined });

    const aborting = new AbortController();
    const aborted = client.watchEvents({}, { signal: aborting.signal });
    await aborted.subscribed();
    aborting.abort();
    expect((await thrownBy(aborted)).code).to.equal(status.CANCELLED);
  });

  it('throws the errors it cannot resume from, with their status details, without resuming', async () => {
    const client = await start();
    const resumptions: Resumption[] = [];
    const unknownLineage = client.watchEvents({ lineageOf: 'no-such-job' }, { onResume: (r) => resumptions.push(r) });
    const refused = await unknownLineage.subscribed().then(
      () => expect.fail('subscribed() resolved for a refused subscription'),
      (error: unknown) => error as ProvenanceClientError,
    );
    expect(refused.code).to.equal(status.NOT_FOUND);
    const missing = await thrownBy(unknownLineage);
    expect(missing.code).to.equal(status.NOT_FOUND);
    expect(missing.reason).to.equal('JOB_NOT_FOUND');

    const invalid = await thrownBy(client.watchEvents({ eventTypes: ['job.exploded'] }, { onResume: (r) => resumptions.push(r) }));
    expect(invalid.code).to.equal(status.INVALID_ARGUMENT);
    expect(invalid.statusDetails?.badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['event_types[0]']);

    const started = Date.now();
    const late = await thrownBy(client.watchEvents({}, { timeoutMs: 300, onResume: (r) => resumptions.push(r) }));
    expect(late.code).to.equal(status.DEADLINE_EXCEEDED);
    // At its deadline, not never: the upper bound only allows a busy machine.
    expect(Date.now() - started).to.be.within(250, 15_000);
    expect(resumptions).to.deep.equal([]);
  });

  it('throws TOO_MANY_SUBSCRIPTIONS at once, without resuming, and opens again once a subscription of the principal ended', async () => {
    const client = await start({ PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '1' });
    const held = client.watchEvents({});
    await held.subscribed();
    const resumptions: Resumption[] = [];
    const refused = await thrownBy(client.watchEvents({}, { onResume: (r) => resumptions.push(r) }));
    expect([refused.code, refused.reason]).to.deep.equal([status.RESOURCE_EXHAUSTED, 'TOO_MANY_SUBSCRIPTIONS']);
    expect(resumptions).to.deep.equal([]);

    held.close();
    // The server releases the slot when it sees the cancellation: until then it refuses, so try until it opens.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const again = client.watchEvents({}, { resume: false });
      const opened = await again.subscribed().then(
        () => true,
        (error: ProvenanceClientError) => {
          if (error.reason !== 'TOO_MANY_SUBSCRIPTIONS' || Date.now() > deadline) throw error;
          return false;
        },
      );
      again.close();
      if (opened) break;
      await sleep(50);
    }
  });

  it('resumes after the server ends a subscriber that reads too slowly (RESOURCE_EXHAUSTED), yielding every event once, in order', async () => {
    // grpc-js's own 64 KiB HTTP/2 window rather than the client's 1 MiB, which would hold every event of the test unread.
    const client = await start({ PROVENANCE_SUBSCRIBER_BUFFER: '50' }, { 'grpc-node.flow_control_window': 65_535 });
    await client.recordJob({ type: 'first', status: SUCCEEDED, outputHash: 'f' });
    const resumptions: Resumption[] = [];
    const watch = client.watchEvents({ startPosition: StartPosition.START_POSITION_OLDEST }, { onResume: (r) => resumptions.push(r), timeoutMs: 40_000 });
    const seen = [(await watch.next()).value as ProvenanceEvent];
    // The consumer stops reading while 1,200 jobs (3,600 events, about 1 MB) are recorded, and until the server has ended
    // it: what the server can hand on meanwhile is bounded, by the 64 KiB HTTP/2 window, the call's 128 KiB send window,
    // grpc-js's 16 pending writes of up to 50 events each and the buffer of 50 (about 1,550 events measured), so the end
    // is bound to come. Its status waits behind the writes the client has not read, so the end shows first in the events
    // the server dropped. With 600 jobs, and reading as soon as they were written, a server whose delivery lagged behind
    // the writes (a busy machine) could hand everything on once the reading began, and end nothing.
    for (let batch = 0; batch < 12; batch++) {
      await client.batchRecordJobs({ requests: Array.from({ length: 100 }, (_, i) => ({ type: 'bulk', status: SUCCEEDED, outputHash: `b${batch}-${i}` })) });
    }
    const server = servers[servers.length - 1]!;
    await until(async () => total(await scrapeMetrics(server.httpAddress), 'provenance_events_dropped_total') > 0, 'the server ending the slow subscriber', 30_000);
    seen.push(...(await take(watch, 3 + 3600 - 1)));

    expect(resumptions.length).to.be.at.least(1);
    expect(resumptions[0]!.error.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(resumptions[0]!.error.reason).to.equal('SUBSCRIBER_TOO_SLOW');
    expect(resumptions[0]!.request.afterCursor).to.be.oneOf(seen.map((e) => e.cursor));
    const everything = await take(client.watchEvents({ startPosition: StartPosition.START_POSITION_OLDEST }, { resume: false }), 3 + 3600);
    expect(seen.map((e) => e.cursor)).to.deep.equal(everything.map((e) => e.cursor));
  });

  describe('when Redis restarts', () => {
    let aof: string;
    let redis: RedisServerProcess;
    let client: ProvenanceClient;
    const restartRedis = async () => {
      await redis.stop();
      redis = await startRedisServer(redis.port, { appendOnlyDir: aof });
    };

    beforeEach(async () => {
      // A Redis of the test's own, with an append-only file so that a restart keeps the stream.
      aof = mkdtempSync(join(tmpdir(), 'ts-client-aof-'));
      redis = await startRedisServer(undefined, { appendOnlyDir: aof });
      client = await start({ REDIS_URL: redis.url, PROVENANCE_EVENT_RELAY_INTERVAL_MS: '300' });
    });
    afterEach(async () => {
      // The server first: stopping it deletes its keys from this Redis.
      await stopAll();
      await redis.stop();
      rmSync(aof, { recursive: true, force: true });
    });

    it('resumes after the last event it yielded (UNAVAILABLE), retrying with bounded backoff until the stream is back', async () => {
      const resumptions: Resumption[] = [];
      const watch = client.watchEvents(
        { startPosition: StartPosition.START_POSITION_OLDEST },
        { onResume: (r) => resumptions.push(r), resume: { maxAttempts: 100, maxDelayMs: 400 }, timeoutMs: 40_000 },
      );
      const before = await client.recordJob({ type: 'before', status: SUCCEEDED, outputHash: 'b' });
      // The events of "before" have reached the watch before Redis goes; the watch stays open.
      const yieldedBefore = await takeKeepingOpen(watch, RECORDED.length);
      const reading = takeKeepingOpen(watch, 9 - RECORDED.length);
      await redis.stop();
      // Committed while Redis is down: the events wait in the record's outbox, and the consumer keeps trying.
      const during = await client.recordJob({ type: 'during', status: SUCCEEDED, outputHash: 'd' });
      await sleep(1_000);
      redis = await startRedisServer(redis.port, { appendOnlyDir: aof });
      const after = await client.recordJob({ type: 'after', status: SUCCEEDED, outputHash: 'a' });

      const seen = [...yieldedBefore, ...(await reading)];
      watch.close();
      expect(typesOf(seen, before.jobId)).to.deep.equal(RECORDED);
      expect(typesOf(seen, during.jobId)).to.deep.equal(RECORDED);
      expect(typesOf(seen, after.jobId)).to.deep.equal(RECORDED);
      expect(resumptions.length).to.be.at.least(1);
      expect(resumptions.every((r) => r.error.code === status.UNAVAILABLE)).to.equal(true);
      const lastBefore = seen.filter((e) => e.jobId === before.jobId).at(-1)!.cursor;
      expect(resumptions.every((r) => r.request.afterCursor === lastBefore)).to.equal(true);
      expect(resumptions.every((r) => r.delayMs <= 400)).to.equal(true);
    });

    it('resumes from where the subscription started when it ended before yielding anything', async () => {
      await client.recordJob({ jobId: 'before', type: 'before', status: SUCCEEDED, outputHash: 'b' });
      const resumptions: Resumption[] = [];
      // From now on: a resumption that started "now" again would miss every event below.
      const watch = client.watchEvents({ jobIds: ['later-1', 'later-2'] }, { onResume: (r) => resumptions.push(r), timeoutMs: 30_000 });
      await watch.subscribed();
      await restartRedis();
      await client.recordJob({ jobId: 'later-1', type: 'later', status: SUCCEEDED, outputHash: 'd' });
      await client.recordJob({ jobId: 'later-2', type: 'later', status: SUCCEEDED, outputHash: 'a' });
      // Both are in the stream before the watch is first read.
      await take(client.watchEvents({ jobIds: ['later-1', 'later-2'], startPosition: StartPosition.START_POSITION_OLDEST }, { timeoutMs: 20_000 }), 6);

      const seen = await take(watch, 6);
      expect(typesOf(seen, 'later-1')).to.deep.equal(RECORDED);
      expect(typesOf(seen, 'later-2')).to.deep.equal(RECORDED);
      expect(resumptions.map((r) => r.error.code)).to.deep.equal([status.UNAVAILABLE]);
      expect(resumptions[0]!.request.afterCursor).to.equal(resumptions[0]!.error.statusDetails?.errorInfo?.metadata.startCursor);
      expect(resumptions[0]!.request.afterCursor).to.match(/^\d+-\d+$/);
    });
  });
});
