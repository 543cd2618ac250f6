import { expect } from 'chai';
import { ProvenanceError } from '../../../src/domain/errors.js';
import { claimed, enqueueRecovered } from '../../../src/domain/execution.js';
import { NO_METRICS } from '../../../src/domain/ports/metrics.js';
import { EventRelay } from '../../../src/service/event-stream/event-relay.js';
import { MAX_LISTED_INVALIDATIONS } from '../../../src/service/execution/invalidation.js';
import { FAIL_STEP } from '../../../src/service/execution/settlement.js';
import type { JsonObject } from '../../../src/domain/json.js';
import { rejection } from '../../support/waits.js';
import { recordJobCommand, submitJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';

const alice = principal('lab', 'alice');
const bob = principal('lab', 'bob');
const admin = principal('lab', 'ada', ['admin']);
const eve = principal('other-lab', 'eve');

const submit = (jobId: string, payload: JsonObject = { text: jobId }, parentIds: string[] = []) => submitJobCommand(jobId, { payload, parentIds });

function code(error: unknown): string {
  expect(error).to.be.instanceOf(ProvenanceError);
  return (error as ProvenanceError).code;
}

/**
 * SubmitJob, RerunJob, CancelJob, InvalidateCache, a worker's run of a
 * delivery and the repair sweep, over the memory adapters: deliveries are
 * run by calling runDelivery, so nothing runs unless the test says so.
 */
describe('use cases: execution', () => {
  let s: MemoryService;
  let runs: number;
  beforeEach(() => {
    runs = 0;
    s = memoryService({ handlers: { counted: ({ payload }) => (runs++, payload) } });
  });
  afterEach(() => s.close());

  const run = (jobId: string) => s.service.runDelivery({ jobId, finalAttempt: true, signal: new AbortController().signal });

  it('queues a submitted job, and a delivery runs it to SUCCEEDED with its output, timed by the clock', async () => {
    const queued = await s.service.submitJob(alice, submit('greet', { text: 'hi' }));
    expect(queued).to.include({ status: 'QUEUED', owner: 'alice', origin: 'SUBMITTED' });
    expect(await s.queue.holding(['greet'])).to.deep.equal(new Set(['greet']));
    s.clock.advance(250);
    await run('greet');
    const done = await s.service.getJob(alice, 'greet');
    expect(done.status).to.equal('SUCCEEDED');
    expect(done.result?.output).to.deep.equal({ text: 'hi' });
    expect(done.completedAt).to.deep.equal(s.clock.now());
  });

  it('claims again a job whose worker stopped while running it, as a new attempt with a compute.job.started event of its own', async () => {
    await s.service.submitJob(alice, submit('restarted'));
    // The first worker claimed it and stopped (killed) while it ran: the record stays RUNNING, and the queue delivers it again.
    const [queued] = await s.store.getJobs(['restarted']);
    expect(await s.store.replaceJob(claimed(queued!, [], s.clock.now()), queued!.etag)).to.equal(true);
    await run('restarted');
    const done = await s.service.getJob(alice, 'restarted');
    expect(done).to.include({ status: 'SUCCEEDED', attempt: 2 });
    await new EventRelay(s.store, s.events, { debug() {}, info() {}, warn() {}, error() {} }, NO_METRICS).sweep();
    const events = (await s.events.read(undefined, 100)).filter((event) => event.jobId === 'restarted').map((event) => event.type);
    expect(events).to.deep.equal(['compute.job.submitted', 'job.provenance.created', 'compute.job.started', 'compute.job.started', 'compute.job.completed', 'job.provenance.completed']);
  });

  it('runs a delivery whose job another write changed between its read and its claim, while it stayed QUEUED', async () => {
    // Whoever enqueues a job marked ENQUEUE_FAILED clears the mark after the queue took it: a worker may read the job before.
    await s.service.submitJob(alice, submit('raced'));
    const getJobs = s.store.getJobs.bind(s.store);
    let raced = false;
    s.store.getJobs = async (ids) => {
      const found = await getJobs(ids);
      if (!raced && ids.length === 1 && ids[0] === 'raced') {
        raced = true;
        expect(await s.store.replaceJob(enqueueRecovered(found[0]!, s.clock.now()), found[0]!.etag)).to.equal(true);
      }
      return found;
    };
    await run('raced');
    expect(raced).to.equal(true);
    expect((await s.service.getJob(alice, 'raced')).status).to.equal('SUCCEEDED');
  });

  it('answers a second job of the same definition and input from the cache, without running the handler', async () => {
    await s.service.submitJob(alice, { ...submit('first'), type: 'counted' });
    await run('first');
    await s.service.submitJob(alice, { ...submit('second', { text: 'first' }), type: 'counted' });
    await run('second');
    const second = await s.service.getJob(alice, 'second');
    expect(second.status).to.equal('SUCCEEDED');
    expect(second.result).to.include({ cached: true, cachedFromJobId: 'first' });
    expect(runs).to.equal(1);
  });

  it('fails every WAITING descendant of a failed job, more than one write of them (FAIL_STEP) and their own children', async () => {
    await s.service.submitJob(alice, { ...submit('doomed-root', { message: 'no' }), type: 'fail' });
    const children = Array.from({ length: 2 * FAIL_STEP + 1 }, (_, i) => `doomed-${i}`);
    for (const child of children) await s.service.submitJob(alice, submit(child, {}, ['doomed-root']));
    await s.service.submitJob(alice, submit('doomed-grandchild', {}, [children.at(-1)!]));
    await run('doomed-root');
    const failed = await Promise.all([...children, 'doomed-grandchild'].map((id) => s.service.getJob(alice, id)));
    expect(failed.map((job) => [job.status, job.error?.reason])).to.deep.equal(failed.map(() => ['FAILED', 'DEPENDENCY_FAILED']));
  });

  it('runs a job whose parents succeeded with their outputs, and fails it when a parent failed', async () => {
    await s.service.submitJob(alice, submit('left', { a: 1 }));
    await s.service.submitJob(alice, submit('right', { b: 2 }));
    await s.service.submitJob(alice, { ...submit('both', {}, ['left', 'right']), type: 'merge' });
    await run('left');
    await run('right');
    await run('both');
    expect((await s.service.getJob(alice, 'both')).result?.output).to.deep.equal({ merged: { a: 1, b: 2 } });

    await s.service.submitJob(alice, { ...submit('broken', { message: 'no' }), type: 'fail' });
    await s.service.submitJob(alice, submit('downstream', {}, ['broken']));
    await run('broken');
    await run('downstream');
    const downstream = await s.service.getJob(alice, 'downstream');
    expect(downstream.status).to.equal('FAILED');
    expect(downstream.error?.reason).to.equal('DEPENDENCY_FAILED');
  });

  it('reruns a job as a new one that names it, with the payload overrides merged', async () => {
    await s.service.submitJob(alice, submit('original', { text: 'a', keep: true }));
    await run('original');
    const rerun = await s.service.rerunJob(alice, { jobId: 'original', payloadOverrides: { text: 'b' }, parentIds: [], replaceParents: false });
    expect(rerun.rerunOfJobId).to.equal('original');
    expect(rerun.payload).to.deep.equal({ text: 'b', keep: true });
    expect(await s.queue.holding([rerun.jobId])).to.deep.equal(new Set([rerun.jobId]));
  });

  it('lets the owner or an admin cancel a queued job, not another submitter, and takes it out of the queue', async () => {
    await s.service.submitJob(alice, submit('doomed'));
    expect(code(await rejection(s.service.cancelJob(bob, { jobId: 'doomed' })))).to.equal('PERMISSION_DENIED');
    expect(code(await rejection(s.service.cancelJob(eve, { jobId: 'doomed' })))).to.equal('NOT_FOUND');
    const cancelled = await s.service.cancelJob(admin, { jobId: 'doomed', reason: 'not needed' });
    expect(cancelled.status).to.equal('CANCELLED');
    expect(await s.queue.holding(['doomed'])).to.deep.equal(new Set());
    // A delivery that comes anyway (at least once) changes nothing.
    await run('doomed');
    expect((await s.service.getJob(alice, 'doomed')).status).to.equal('CANCELLED');
  });

  it('invalidates a result and what descends from it, and leaves out what another tenant owns', async () => {
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'base', readers: ['other-lab/eve'] }));
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'mid', parentIds: ['base'] }));
    await s.service.recordJob(eve, recordJobCommand({ jobId: 'theirs', parentIds: ['base'] }));
    const dry = await s.service.invalidateCache(alice, { jobId: 'base', dryRun: true });
    expect(dry.affectedJobIds).to.deep.equal(['base', 'mid']);
    expect(dry.skippedJobIds).to.have.length(1);
    expect((await s.service.getJob(alice, 'mid')).cacheState).to.equal('FRESH');

    const done = await s.service.invalidateCache(alice, { jobId: 'base', dryRun: false });
    expect(done.affectedJobIds).to.deep.equal(['base', 'mid']);
    for (const jobId of ['base', 'mid']) expect((await s.service.getJob(alice, jobId)).cacheState, jobId).to.equal('STALE');
    expect((await s.service.getJob(eve, 'theirs')).cacheState).to.equal('FRESH');
  });

  it('refuses to invalidate a job that has not finished, changing nothing, so that its run still writes its result', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const gated = memoryService({ handlers: { gated: async ({ payload }) => (started(), await gate, payload) } });
    try {
      await gated.service.submitJob(alice, { ...submit('held'), type: 'gated' });
      const queued = await gated.service.getJob(alice, 'held');
      const notFinished = async () => {
        const error = await rejection(gated.service.invalidateCache(alice, { jobId: 'held', dryRun: false }));
        expect(error).to.be.instanceOf(ProvenanceError);
        expect(error).to.include({ code: 'FAILED_PRECONDITION', reason: 'NOT_FINISHED' });
      };
      await notFinished();
      expect((await gated.service.getJob(alice, 'held')).etag).to.equal(queued.etag);
      const delivery = gated.service.runDelivery({ jobId: 'held', finalAttempt: true, signal: new AbortController().signal });
      await running;
      const claimed = await gated.service.getJob(alice, 'held');
      expect(claimed.status).to.equal('RUNNING');
      // Its write would have changed the etag the run writes its result against: the job stayed RUNNING until the repair sweep.
      await notFinished();
      expect((await gated.service.getJob(alice, 'held')).etag).to.equal(claimed.etag);
      release();
      await delivery;
      expect((await gated.service.getJob(alice, 'held')).status).to.equal('SUCCEEDED');
    } finally {
      gated.close();
    }
  });

  it('counts as affected only the results it makes STALE: a descendant still running or waiting has none', async () => {
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'source' }));
    await s.service.submitJob(alice, submit('pending', { text: 'p' }, ['source']));
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'result', parentIds: ['source'] }));
    const answer = await s.service.invalidateCache(alice, { jobId: 'source', dryRun: false });
    expect(answer).to.include({ affectedCount: 2, skippedCount: 0 });
    expect(answer.affectedJobIds).to.deep.equal(['source', 'result']);
    expect((await s.service.getJob(alice, 'pending')).cacheState).to.not.equal('STALE');
  });

  it('marks the descendants STALE once: by the relay before it publishes, or by the call when the relay left the event in the outbox', async () => {
    const marked: string[][] = [];
    const markStale = s.store.markStale.bind(s.store);
    s.store.markStale = (jobIds, now) => {
      marked.push([...jobIds]);
      return markStale(jobIds, now);
    };
    for (const [jobId, parentIds] of [['top', []], ['left', ['top']], ['right', ['top']], ['below', ['left']]] as const) {
      await s.service.recordJob(alice, recordJobCommand({ jobId, parentIds: [...parentIds] }));
    }
    await s.service.invalidateCache(alice, { jobId: 'top', dryRun: false });
    expect(marked).to.have.length(1);
    expect([...marked[0]!].sort()).to.deep.equal(['below', 'left', 'right']);

    // The log refuses the event: the relay marks the jobs and leaves the event in the outbox, and the call marks them again itself.
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'upstream' }));
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'downstream', parentIds: ['upstream'] }));
    marked.length = 0;
    s.events.append = () => Promise.reject(new ProvenanceError('UNAVAILABLE', 'the event log is down', 'EVENT_LOG_UNAVAILABLE'));
    await s.service.invalidateCache(alice, { jobId: 'upstream', dryRun: false });
    expect(marked).to.deep.equal([['downstream'], ['downstream']]);
    expect((await s.service.getJob(alice, 'downstream')).cacheState).to.equal('STALE');
    expect((await s.store.listWithPendingEvents(10)).map((record) => record.jobId)).to.deep.equal(['upstream']);
  });

  it('lists at most MAX_LISTED_INVALIDATIONS jobs of each kind, nearest first, counts them all, and publishes the count without the ids', async () => {
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'wide' }));
    const children = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => recordJobCommand({ jobId: `${prefix}-${i}`, parentIds: ['wide'] }));
    const record = async (owner: typeof alice, commands: ReturnType<typeof recordJobCommand>[]) => {
      for (let i = 0; i < commands.length; i += 100) expect((await s.service.batchRecordJobs(owner, commands.slice(i, i + 100))).every((o) => o.ok)).to.equal(true);
    };
    await record(alice, children('mine', MAX_LISTED_INVALIDATIONS + 1));
    await record(bob, children('bobs', MAX_LISTED_INVALIDATIONS + 3));
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'deeper', parentIds: ['mine-0'] }));

    const answer = await s.service.invalidateCache(alice, { jobId: 'wide', dryRun: false });
    expect(answer.affectedCount).to.equal(MAX_LISTED_INVALIDATIONS + 3);
    expect(answer.affectedJobIds).to.have.length(MAX_LISTED_INVALIDATIONS);
    expect(answer.affectedJobIds[0]).to.equal('wide');
    expect(answer.affectedJobIds).to.not.include('deeper');
    expect(answer.skippedCount).to.equal(MAX_LISTED_INVALIDATIONS + 3);
    expect(answer.skippedJobIds).to.have.length(MAX_LISTED_INVALIDATIONS);
    // Listed or not, every one of them is STALE.
    for (const jobId of ['deeper', `mine-${MAX_LISTED_INVALIDATIONS}`]) expect((await s.service.getJob(alice, jobId)).cacheState, jobId).to.equal('STALE');

    const published = (await s.events.read(undefined, 10_000)).filter((event) => event.type === 'cache.invalidated');
    expect(published).to.have.length(1);
    expect(published[0]!.affectedCount).to.equal(MAX_LISTED_INVALIDATIONS + 3);
    expect(published[0]).to.not.have.property('invalidatedJobIds');
  });

  it('enqueues the submissions of one turn in one call, and marks ENQUEUE_FAILED only the job whose enqueue the queue refused', async () => {
    const calls: string[][] = [];
    const enqueueAll = s.queue.enqueueAll.bind(s.queue);
    s.queue.enqueueAll = async (jobIds) => {
      calls.push([...jobIds]);
      const outcomes = await enqueueAll(jobIds.filter((id) => id !== 'refused'));
      return jobIds.map((id) => (id === 'refused' ? new ProvenanceError('UNAVAILABLE', 'the queue is down', 'QUEUE_UNAVAILABLE') : outcomes.shift()));
    };
    const answers = await Promise.all(['before', 'refused', 'after'].map((jobId) => s.service.submitJob(alice, submit(jobId)).catch((error: unknown) => error)));
    expect(calls).to.deep.equal([['before', 'refused', 'after']]);
    expect(answers.map((answer) => (answer instanceof ProvenanceError ? answer.code : (answer as { status: string }).status))).to.deep.equal([
      'QUEUED',
      'UNAVAILABLE',
      'QUEUED',
    ]);
    expect(await s.queue.holding(['before', 'refused', 'after'])).to.deep.equal(new Set(['before', 'after']));
    expect((await s.service.getJob(alice, 'refused')).error?.reason).to.equal('ENQUEUE_FAILED');
    for (const jobId of ['before', 'after']) expect((await s.service.getJob(alice, jobId)).error, jobId).to.equal(undefined);
    // The repair sweep enqueues it once the queue takes it, and clears the mark.
    s.queue.enqueueAll = enqueueAll;
    expect(await s.service.repairSweep()).to.deep.equal({ enqueued: 1 });
    const repaired = await s.service.getJob(alice, 'refused');
    expect(repaired.status).to.equal('QUEUED');
    expect(repaired.error).to.equal(undefined);
  });

  it('puts back into the queue the queued jobs it lost, in the repair sweep', async () => {
    await s.service.submitJob(alice, submit('lost'));
    await s.service.submitJob(alice, submit('kept'));
    await s.queue.cancel('lost');
    expect(await s.service.repairSweep()).to.deep.equal({ enqueued: 1 });
    expect(await s.queue.holding(['lost', 'kept'])).to.deep.equal(new Set(['lost', 'kept']));
  });
});
