import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { compareCursors } from '../../src/domain/job-events.js';
import { JobStatus } from '@provenance/client';
import { StartPosition, type ProvenanceEvent } from '@provenance/client';
import { FAST_EXECUTION, Trace, sqliteLane, waitForJob, type StoreLane } from '../support/execution.js';
import { collectEvents, connect, statusDetails, subscribed, type Client } from '../support/grpc-client.js';
import { deleteQueueKeys, startRedisServer, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { rejection } from '../support/waits.js';

const SUCCEEDED = JobStatus.JOB_STATUS_SUCCEEDED;
const typesOf = (events: ProvenanceEvent[], jobId: string) => events.filter((e) => e.jobId === jobId).map((e) => e.type);

describe('provenance events through WatchEvents', function () {
  this.timeout(60_000);
  let lane: StoreLane;
  let trace: Trace;
  const processes: ServerProcess[] = [];
  const prefix = uniqueQueuePrefix();
  const start = async (env: Record<string, string> = {}) => {
    const server = await startServer({ ...(await lane.env()), ...FAST_EXECUTION, PROVENANCE_REDIS_PREFIX: prefix, ...env });
    processes.push(server);
    return { server, api: connect(server.address) };
  };
  /** Every event the log holds now, read from the oldest. */
  const everything = async (api: Client, count: number) => (await collectEvents(api.events({ startPosition: StartPosition.START_POSITION_OLDEST }), count)).events;

  beforeEach(() => {
    lane = sqliteLane();
    trace = new Trace();
  });
  afterEach(async () => {
    for (const running of processes.splice(0)) await running.stop('SIGKILL');
    await deleteQueueKeys(prefix);
    trace.dispose();
    await lane.dispose();
  });

  it('delivers every event of a job lifecycle, in order, and the invalidation with its count', async () => {
    const { api } = await start();
    const stream = await subscribed(api.events({}));
    const parent = await waitForJob(api, (await api.submitJob({ type: 'echo', payload: { n: 1 } })).jobId);
    const cached = await waitForJob(api, (await api.submitJob({ type: 'echo', payload: { n: 1 } })).jobId);
    const failed = await waitForJob(api, (await api.submitJob({ type: 'fail', payload: { message: 'no' } })).jobId);
    const child = await waitForJob(api, (await api.submitJob({ type: 'echo', parentJobIds: [parent.jobId] })).jobId);
    const rerun = await waitForJob(api, (await api.rerunJob({ jobId: parent.jobId })).jobId);
    const sleeper = await api.submitJob({ type: 'sleep', payload: { ms: 60_000 } });
    await waitForJob(api, sleeper.jobId, (j) => j.status === JobStatus.JOB_STATUS_RUNNING);
    await api.cancelJob({ jobId: sleeper.jobId });
    await api.invalidateCache({ jobId: parent.jobId });
    const recorded = await api.recordJob({ type: 'external', status: SUCCEEDED, outputHash: 'h' });

    // parent 5 + invalidation 1, cached 5, failed 6, child 5, rerun 6, sleeper 5, recorded 3
    const { events } = await collectEvents(stream, 6 + 5 + 6 + 5 + 6 + 5 + 3);
    stream.cancel();
    expect(typesOf(events, parent.jobId)).to.deep.equal([
      'compute.job.submitted',
      'job.provenance.created',
      'compute.job.started',
      'compute.job.completed',
      'job.provenance.completed',
      'cache.invalidated',
    ]);
    expect(typesOf(events, cached.jobId)).to.deep.equal(['compute.job.submitted', 'job.provenance.created', 'compute.job.started', 'compute.job.cached', 'job.provenance.completed']);
    // One start per attempt: the one that failed and its retry (PROVENANCE_JOB_RETRIES=1).
    expect(typesOf(events, failed.jobId)).to.deep.equal([
      'compute.job.submitted',
      'job.provenance.created',
      'compute.job.started',
      'compute.job.started',
      'compute.job.failed',
      'job.provenance.completed',
    ]);
    expect(typesOf(events, child.jobId)).to.deep.equal(['compute.job.submitted', 'job.provenance.created', 'compute.job.started', 'compute.job.completed', 'job.provenance.completed']);
    expect(typesOf(events, rerun.jobId)).to.deep.equal([
      'compute.job.submitted',
      'compute.job.rerun',
      'job.provenance.created',
      'compute.job.started',
      'compute.job.completed',
      'job.provenance.completed',
    ]);
    expect(typesOf(events, sleeper.jobId)).to.deep.equal(['compute.job.submitted', 'job.provenance.created', 'compute.job.started', 'compute.job.cancelled', 'job.provenance.completed']);
    expect(typesOf(events, recorded.jobId)).to.deep.equal(['job.provenance.created', 'compute.job.completed', 'job.provenance.completed']);

    const completed = events.find((e) => e.jobId === parent.jobId && e.type === 'compute.job.completed')!;
    expect(completed).to.deep.include({ jobType: 'echo', status: SUCCEEDED, definitionHash: parent.definitionHash, inputHash: parent.inputHash, outputHash: parent.result!.outputHash, tenant: 'default' });
    expect(events.find((e) => e.jobId === cached.jobId && e.type === 'compute.job.cached')!.cachedFromJobId).to.equal(parent.jobId);
    expect(events.find((e) => e.type === 'compute.job.rerun')!.rerunOfJobId).to.equal(parent.jobId);
    expect(events.find((e) => e.jobId === failed.jobId && e.type === 'compute.job.failed')!.error).to.deep.include({ reason: 'HANDLER_ERROR', message: 'no' });
    expect(events.find((e) => e.type === 'cache.invalidated')!.affectedCount).to.equal(2);
    const cursors = events.map((e) => e.cursor);
    expect([...cursors].sort(compareCursors)).to.deep.equal(cursors);
    expect(new Set(cursors).size).to.equal(cursors.length);
  });

  it('follows lineage_of into jobs created after the subscription started', async () => {
    const { api } = await start();
    const root = await api.recordJob({ type: 'root', status: SUCCEEDED, outputHash: 'r' });
    const unrelated = await api.recordJob({ type: 'other', status: SUCCEEDED, outputHash: 'o' });
    const stream = await subscribed(api.events({ lineageOf: root.jobId, eventTypes: ['job.provenance.created'] }));
    const child = await api.recordJob({ type: 'child', status: SUCCEEDED, outputHash: 'c', parentJobIds: [root.jobId] });
    await api.recordJob({ type: 'noise', status: SUCCEEDED, outputHash: 'n', parentJobIds: [unrelated.jobId] });
    const grandchild = await api.recordJob({ type: 'grandchild', status: SUCCEEDED, outputHash: 'g', parentJobIds: [child.jobId] });
    const { events } = await collectEvents(stream, 2);
    stream.cancel();
    expect(events.map((e) => [e.type, e.jobId])).to.deep.equal([
      ['job.provenance.created', child.jobId],
      ['job.provenance.created', grandchild.jobId],
    ]);
  });

  it('writes a batch several events at a time, no write larger than the largest message the server sends', async () => {
    // A batch of these 60 events holds about 17 KB, several times this limit: a write of all of them would end the call.
    const { api } = await start({ PROVENANCE_MAX_MESSAGE_BYTES: '4096' });
    const jobIds: string[] = [];
    for (let i = 0; i < 20; i++) jobIds.push((await api.recordJob({ type: 'small', status: SUCCEEDED, outputHash: `h${i}` })).jobId);
    // From the oldest: the catch-up reads every event in one page, delivered as one batch.
    const { events, error } = await collectEvents(api.events({ startPosition: StartPosition.START_POSITION_OLDEST }), 20 * 3);
    expect(error).to.equal(undefined);
    expect(events.map((e) => e.jobId)).to.deep.equal(jobIds.flatMap((id) => [id, id, id]));
    for (let i = 1; i < events.length; i++) expect(compareCursors(events[i - 1]!.cursor, events[i]!.cursor)).to.be.below(0);
  });

  it('resumes after a cursor with no gap and no duplicate', async () => {
    const { api } = await start();
    const first = await subscribed(api.events({}));
    for (let i = 0; i < 5; i++) await api.recordJob({ type: 'step', status: SUCCEEDED, outputHash: `h${i}` });
    const { events: before } = await collectEvents(first, 7);
    first.cancel();
    for (let i = 5; i < 10; i++) await api.recordJob({ type: 'step', status: SUCCEEDED, outputHash: `h${i}` });

    const resumed = await collectEvents(api.events({ afterCursor: before.at(-1)!.cursor }), 30 - 7);
    const all = await everything(api, 30);
    expect([...before, ...resumed.events].map((e) => e.cursor)).to.deep.equal(all.map((e) => e.cursor));
  });

  it('ends a subscriber that reads too slowly with RESOURCE_EXHAUSTED, from where it resumes completely', async () => {
    const { api, server } = await start({ PROVENANCE_SUBSCRIBER_BUFFER: '50' });
    // grpc-js's own 64 KiB HTTP/2 window rather than the client's 1 MiB, which would hold every event of the test unread.
    const slowClient = connect(server.address, { flowControlWindow: 65_535 });
    const slow = slowClient.events({});
    const ready = subscribed(slow);
    const reading = collectEvents(slow, 10_000);
    // A client that does not read: HTTP/2 flow control stops the server's writes, and its queue fills.
    slow.pause();
    await ready;
    // Three events a record, about 3 times what the client's window, the server's send window and the buffer of 50 hold together (about 800 events): the cut comes however fast the server is.
    const requests = Array.from({ length: 1000 }, (_, i) => ({ type: 'bulk', status: SUCCEEDED, outputHash: `b${i}` }));
    for (let i = 0; i < requests.length; i += 100) await api.batchRecordJobs({ requests: requests.slice(i, i + 100) });
    slow.resume();
    const cut = await reading;
    slowClient.close();
    expect(cut.error?.code).to.equal(status.RESOURCE_EXHAUSTED);
    const info = statusDetails(cut.error).errorInfo!;
    expect(info.reason).to.equal('SUBSCRIBER_TOO_SLOW');
    expect(cut.events.length).to.be.below(3000);
    expect(info.metadata.startCursor).to.match(/^\d+-\d+$/);

    // Resume after the last event processed, or where the subscription started if none was.
    const resumeAfter = cut.events.at(-1)?.cursor ?? info.metadata.startCursor!;
    const rest = await collectEvents(api.events({ afterCursor: resumeAfter }), 3000 - cut.events.length);
    expect(rest.error, rest.error?.message).to.equal(undefined);
    expect([...cut.events, ...rest.events].map((e) => e.cursor)).to.deep.equal((await everything(api, 3000)).map((e) => e.cursor));
  });

  it('says OUT_OF_RANGE for a cursor older than the events kept, naming the oldest kept', async () => {
    const { api } = await start({ PROVENANCE_EVENT_RETENTION: '10' });
    for (let i = 0; i < 20; i++) await api.batchRecordJobs({ requests: Array.from({ length: 10 }, () => ({ type: 'fill', status: SUCCEEDED, outputHash: 'f' })) });
    const kept = await everything(api, 1).then((events) => events[0]!);
    const { error } = await collectEvents(api.events({ afterCursor: '1-0' }), 1);
    expect(error?.code).to.equal(status.OUT_OF_RANGE);
    expect(error?.details).to.contain(kept.cursor);
    expect(statusDetails(error).errorInfo?.metadata.oldestCursor).to.equal(kept.cursor);
  });

  it('says OUT_OF_RANGE for a cursor after the newest event, naming the newest, and follows from the newest itself', async () => {
    const { api } = await start();
    const watch = (afterCursor: string) => subscribed(api.events({ jobIds: ['later'], afterCursor }));
    // An empty stream's newest is 0-0: any other cursor is after it.
    const beforeAny = await rejection(watch('1-0'));
    expect(statusDetails(beforeAny).errorInfo?.metadata.newestCursor).to.equal('0-0');

    await api.recordJob({ jobId: 'first', type: 'x', status: SUCCEEDED, outputHash: 'h' });
    const newest = (await everything(api, 3)).at(-1)!.cursor;
    const [milliseconds, sequence] = newest.split('-').map(BigInt) as [bigint, bigint];
    for (const cursor of [`${milliseconds}-${sequence + 1n}`, `${milliseconds + 1n}-0`, '9999999999999-0', '18446744073709551615-0', '18446744073709551615-18446744073709551615']) {
      const refused = (await rejection(watch(cursor))) as ServiceError;
      expect(refused.code, cursor).to.equal(status.OUT_OF_RANGE);
      expect(refused.details, cursor).to.contain(newest);
      expect(statusDetails(refused).errorInfo, cursor).to.deep.include({ reason: 'CURSOR_AFTER_NEWEST', metadata: { newestCursor: newest } });
    }

    const fromNewest = await watch(newest);
    await api.recordJob({ jobId: 'later', type: 'x', status: SUCCEEDED, outputHash: 'h' });
    const { events } = await collectEvents(fromNewest, 3);
    fromNewest.cancel();
    expect(typesOf(events, 'later')).to.deep.equal(['job.provenance.created', 'compute.job.completed', 'job.provenance.completed']);
  });

  it('refuses a cursor with a part over 2^64 - 1 with a violation on after_cursor', async () => {
    const { api } = await start();
    for (const cursor of ['99999999999999999999-0', '18446744073709551616-0', '1-18446744073709551616', '1-99999999999999999999']) {
      const refused = (await rejection(subscribed(api.events({ afterCursor: cursor })))) as ServiceError;
      expect(refused.code, cursor).to.equal(status.INVALID_ARGUMENT);
      expect(statusDetails(refused).badRequest?.fieldViolations.map((v) => v.field), cursor).to.deep.equal(['after_cursor']);
    }
  });

  it('refuses bad requests with field violations', async () => {
    const { api } = await start();
    const { error } = await collectEvents(api.events({ eventTypes: ['job.exploded'], afterCursor: 'yesterday', jobIds: ['bad id'] }), 1);
    expect(error?.code).to.equal(status.INVALID_ARGUMENT);
    expect(statusDetails(error).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['job_ids[0]', 'event_types[0]', 'after_cursor']);
    const missing = await collectEvents(api.events({ lineageOf: 'no-such-job' }), 1);
    expect(missing.error?.code).to.equal(status.NOT_FOUND);
    // Over the bound, the ids are refused as one without checking each; a label filter follows the labels' rules.
    const tooMany = await collectEvents(api.events({ jobIds: Array.from({ length: 1001 }, (_, i) => `job-${i}`), labels: { 'Bad Key': 'x' } }), 1);
    expect(tooMany.error?.code).to.equal(status.INVALID_ARGUMENT);
    expect(statusDetails(tooMany.error).badRequest?.fieldViolations.map((v) => [v.field, v.description])).to.deep.equal([
      ['job_ids', 'at most 1000 job ids; got 1001'],
      ['labels[Bad Key]', "key must be 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter"],
    ]);
  });

  it('ends open subscriptions resumably when the server shuts down, without waiting out the grace period', async () => {
    const { server, api } = await start({ PROVENANCE_SHUTDOWN_GRACE_MS: '30000' });
    const stream = await subscribed(api.events({}));
    const ended = collectEvents(stream, 1000);
    expect(await server.stop('SIGTERM')).to.equal(0);
    // Only a call still open when the grace period ends makes the server force its shutdown.
    expect(server.output()).not.to.match(/forcing shutdown/);
    const { error } = await ended;
    expect(error?.code).to.equal(status.UNAVAILABLE);
    expect(statusDetails(error).errorInfo).to.deep.include({ reason: 'SERVER_SHUTTING_DOWN' });
    expect(statusDetails(error).errorInfo?.metadata.startCursor).to.match(/^\d+-\d+$/);
  });

  it('carries an event written through one server to a subscriber of another', async () => {
    const { api: a } = await start();
    const { api: b } = await start();
    const stream = await subscribed(b.events({ eventTypes: ['job.provenance.created'] }));
    const job = await a.recordJob({ type: 'cross', status: SUCCEEDED, outputHash: 'x' });
    const { events } = await collectEvents(stream, 1);
    stream.cancel();
    expect(events[0]).to.deep.include({ type: 'job.provenance.created', jobId: job.jobId });
  });

  it('ends subscriptions resumably when Redis restarts, and the resume loses nothing that was committed', async () => {
    const aof = mkdtempSync(join(tmpdir(), 'provenance-aof-'));
    const redis = await startRedisServer(undefined, { appendOnlyDir: aof });
    try {
      const { api } = await start({ REDIS_URL: redis.url, PROVENANCE_EVENT_RELAY_INTERVAL_MS: '300' });
      const stream = await subscribed(api.events({}));
      const before = await api.recordJob({ type: 'before', status: SUCCEEDED, outputHash: 'b' });
      const seen = await collectEvents(stream, 3);
      await redis.stop();
      const ended = await collectEvents(stream, 1000);
      expect(ended.error?.code).to.equal(status.UNAVAILABLE);
      const lastCursor = seen.events.at(-1)!.cursor;
      expect(statusDetails(ended.error).errorInfo!.metadata.lastCursor).to.equal(lastCursor);

      // Committed while Redis is down: the events wait in the records' outboxes.
      const during = await api.recordJob({ type: 'during', status: SUCCEEDED, outputHash: 'd' });
      const restarted = await startRedisServer(redis.port, { appendOnlyDir: aof });
      try {
        const after = await api.recordJob({ type: 'after', status: SUCCEEDED, outputHash: 'a' });
        let resumed: ProvenanceEvent[] = [];
        for (let attempt = 0; attempt < 50 && resumed.length < 6; attempt++) {
          const result = await collectEvents(api.events({ afterCursor: lastCursor }), 6, 2000).catch(() => ({ events: [] as ProvenanceEvent[] }));
          resumed = result.events;
          if (resumed.length < 6) await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect(resumed.map((e) => e.jobId)).to.deep.equal([during.jobId, during.jobId, during.jobId, after.jobId, after.jobId, after.jobId]);
        expect(seen.events.map((e) => e.jobId)).to.deep.equal([before.jobId, before.jobId, before.jobId]);
      } finally {
        await restarted.stop();
      }
    } finally {
      await redis.stop();
      rmSync(aof, { recursive: true, force: true });
    }
  });
});
