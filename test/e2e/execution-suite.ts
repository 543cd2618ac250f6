import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { CachePolicy, CacheState, JobOrigin, JobStatus, type Job } from '@provenance/client';
import { LineageDirection } from '@provenance/client';
import { ReproducibilityIssueReason, type DeepPartial, type SubmitJobRequest } from '@provenance/client';
import { FAST_EXECUTION, Trace, waitForJob, type StoreLane } from '../support/execution.js';
import { connect, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/waits.js';

const { JOB_STATUS_SUCCEEDED: SUCCEEDED, JOB_STATUS_FAILED: FAILED, JOB_STATUS_CANCELLED: CANCELLED } = JobStatus;

/** Running submitted jobs: a server with in-process workers, on the real Redis under a key prefix of its own. */
export function describeExecution(makeLane: () => StoreLane): void {
  const lane = makeLane();
  describe(`job execution (${lane.name})`, function () {
    this.timeout(60_000);
    const prefix = uniqueQueuePrefix();
    let server: ServerProcess;
    let api: Client;
    let trace: Trace;

    before(async () => {
      server = await startServer({ ...(await lane.env()), ...FAST_EXECUTION, PROVENANCE_REDIS_PREFIX: prefix });
      api = connect(server.address);
    });
    after(async () => {
      api?.close();
      await server?.stop();
      await deleteQueueKeys(prefix);
      await lane.dispose();
    });
    beforeEach(() => {
      trace = new Trace();
    });
    afterEach(() => trace.dispose());

    /** Submits a test.traced job that leaves its runs in this test's trace. */
    const traced = (payload: Record<string, unknown> = {}, request: DeepPartial<SubmitJobRequest> = {}) =>
      api.submitJob({ type: 'test.traced', ...request, payload: { trace: trace.path, ...payload } });
    const finished = (job: Job) => waitForJob(api, job.jobId);

    it('runs a diamond once per job, each after its parents', async () => {
      // 'a' runs until its children are submitted, so that they wait on it however slow the machine.
      const aHeld = trace.gate('a');
      const a = await traced({ name: 'a', holdUntil: aHeld.path });
      expect(a.status).to.equal(JobStatus.JOB_STATUS_QUEUED);
      expect(a.origin).to.equal(JobOrigin.JOB_ORIGIN_SUBMITTED);
      const b = await traced({ name: 'b' }, { parentJobIds: [a.jobId] });
      const c = await traced({ name: 'c' }, { parentJobIds: [a.jobId] });
      expect(b.status).to.equal(JobStatus.JOB_STATUS_WAITING);
      aHeld.open();
      const d = await api.submitJob({ type: 'merge', parentJobIds: [b.jobId, c.jobId] });
      const done = await finished(d);
      expect(done.status).to.equal(SUCCEEDED);
      expect(done.result?.output).to.deep.equal({ merged: { parents: [a.jobId] } });

      const lines = trace.lines();
      for (const job of [a, b, c]) expect(lines.filter((l) => l.jobId === job.jobId && l.event === 'start'), job.jobId).to.have.length(1);
      const ended = (job: Job) => lines.find((l) => l.jobId === job.jobId && l.event === 'end')!.at;
      const started = (job: Job) => lines.find((l) => l.jobId === job.jobId && l.event === 'start')!.at;
      expect(started(b)).to.be.at.least(ended(a));
      expect(started(c)).to.be.at.least(ended(a));
      const records = await Promise.all([a, b, c, d].map((job) => api.getJob({ jobId: job.jobId })));
      for (const record of records) expect(record).to.deep.include({ status: SUCCEEDED, attempt: 1, cacheState: CacheState.CACHE_STATE_FRESH });
      expect(records[3]!.startTime!.getTime()).to.be.at.least(Math.max(records[1]!.completeTime!.getTime(), records[2]!.completeTime!.getTime()));
      expect(records[1]!.inputHash).to.have.length(64);
    });

    it('fails every waiting descendant of a failed job with DEPENDENCY_FAILED, and nothing else', async () => {
      // The root fails only once its descendants are submitted, however slow the machine.
      const rootHeld = trace.gate('root');
      const root = await traced({ name: 'root', holdUntil: rootHeld.path, fail: 'boom' });
      const child = await traced({ name: 'child' }, { parentJobIds: [root.jobId] });
      const grandchild = await traced({ name: 'grandchild' }, { parentJobIds: [child.jobId] });
      const sibling = await traced({ name: 'sibling' });
      const onSibling = await traced({ name: 'on-sibling' }, { parentJobIds: [sibling.jobId] });
      rootHeld.open();
      const failedRoot = await finished(root);
      expect(failedRoot).to.deep.include({ status: FAILED, attempt: 2 });
      expect(failedRoot.error).to.deep.include({ reason: 'HANDLER_ERROR', message: 'boom' });
      expect(trace.starts(root.jobId)).to.equal(2);
      for (const job of [child, grandchild]) {
        const record = await finished(job);
        expect(record.status).to.equal(FAILED);
        expect(record.error).to.deep.equal({ reason: 'DEPENDENCY_FAILED', message: `job ${root.jobId}, which this job depends on, failed`, dependencyJobId: root.jobId });
        expect(trace.starts(job.jobId)).to.equal(0);
      }
      expect((await finished(onSibling)).status).to.equal(SUCCEEDED);
      const refused = await failure(traced({}, { parentJobIds: [root.jobId] }));
      expect(refused.code).to.equal(status.FAILED_PRECONDITION);
      expect(statusDetails(refused).errorInfo?.reason).to.equal('PARENT_FAILED');
    });

    it('serves a known result from the cache without running the handler', async () => {
      const first = await finished(await traced({ name: 'cached', output: { value: 42 } }));
      const second = await finished(await traced({ name: 'cached', output: { value: 42 } }));
      expect(second.result).to.deep.equal({ ...first.result, cached: true, cachedFromJobId: first.jobId });
      expect(second.inputHash).to.equal(first.inputHash);
      expect(trace.starts(second.jobId)).to.equal(0);

      const bypass = await finished(await traced({ name: 'cached', output: { value: 42 } }, { cachePolicy: CachePolicy.CACHE_POLICY_BYPASS }));
      expect(bypass.result?.cached).to.equal(false);
      expect(trace.starts(bypass.jobId)).to.equal(1);
      const refresh = await finished(await traced({ name: 'cached', output: { value: 42 } }, { cachePolicy: CachePolicy.CACHE_POLICY_REFRESH }));
      expect(trace.starts(refresh.jobId)).to.equal(1);
      const afterRefresh = await finished(await traced({ name: 'cached', output: { value: 42 } }));
      expect(afterRefresh.result?.cachedFromJobId).to.equal(refresh.jobId);
    });

    it('reruns a job as it was, and with changed payload or parents', async () => {
      const parent = await finished(await traced({ name: 'parent' }));
      const original = await finished(await traced({ name: 'original', n: 1, keep: true }, { parentJobIds: [parent.jobId] }));
      const same = await finished(await api.rerunJob({ jobId: original.jobId }));
      expect(same).to.deep.include({ rerunOfJobId: original.jobId, definitionHash: original.definitionHash, inputHash: original.inputHash, status: SUCCEEDED });
      expect(same.payload).to.deep.equal(original.payload);
      expect(same.cachePolicy).to.equal(CachePolicy.CACHE_POLICY_BYPASS);
      expect(trace.starts(same.jobId)).to.equal(1);

      const changed = await finished(
        await api.rerunJob({ jobId: original.jobId, payloadChange: { $case: 'payloadOverrides', value: { n: 2, keep: null } }, replaceParents: true, parentJobIds: [] }),
      );
      expect(changed.payload).to.deep.equal({ trace: trace.path, name: 'original', n: 2 });
      expect(changed.parentJobIds).to.deep.equal([]);
      expect(changed.definitionHash).not.to.equal(original.definitionHash);
      expect(changed.rerunOfJobId).to.equal(original.jobId);
    });

    it('invalidates exactly the job and its descendants, dry run first', async () => {
      const a = await finished(await traced({ name: 'a' }));
      const b = await finished(await traced({ name: 'b' }, { parentJobIds: [a.jobId] }));
      const c = await finished(await traced({ name: 'c' }, { parentJobIds: [b.jobId] }));
      const other = await finished(await traced({ name: 'other' }));
      const dry = await api.invalidateCache({ jobId: b.jobId, dryRun: true });
      expect(dry).to.deep.equal({ affectedJobIds: [b.jobId, c.jobId], affectedCount: 2, dryRun: true, skippedJobIds: [], skippedCount: 0 });
      expect((await api.getJob({ jobId: b.jobId })).cacheState).to.equal(CacheState.CACHE_STATE_FRESH);

      const real = await api.invalidateCache({ jobId: b.jobId });
      expect(real).to.deep.equal({ affectedJobIds: [b.jobId, c.jobId], affectedCount: 2, dryRun: false, skippedJobIds: [], skippedCount: 0 });
      const states = await Promise.all([a, b, c, other].map(async (job) => (await api.getJob({ jobId: job.jobId })).cacheState));
      expect(states).to.deep.equal([CacheState.CACHE_STATE_FRESH, CacheState.CACHE_STATE_STALE, CacheState.CACHE_STATE_STALE, CacheState.CACHE_STATE_FRESH]);

      const again = await finished(await traced({ name: 'b' }, { parentJobIds: [a.jobId] }));
      expect(again.result?.cached).to.equal(false);
      expect(trace.starts(again.jobId)).to.equal(1);
      const report = await api.checkReproducibility({ jobId: c.jobId });
      expect(report.issues.map((i) => ReproducibilityIssueReason[i.reason])).to.include('REPRODUCIBILITY_ISSUE_REASON_STALE_RESULT');
    });

    it('invalidates downstream on completion only when the output changed', async () => {
      const counter = (request: DeepPartial<SubmitJobRequest> = {}) => api.submitJob({ type: 'test.counter', payload: { trace: trace.path }, ...request });
      const steady = await finished(await traced({ name: 'steady', output: { same: true } }));
      const onSteady = await finished(await traced({ name: 'on-steady' }, { parentJobIds: [steady.jobId] }));
      await finished(await api.rerunJob({ jobId: steady.jobId }));
      expect((await api.getJob({ jobId: onSteady.jobId })).cacheState).to.equal(CacheState.CACHE_STATE_FRESH);

      const changing = await finished(await counter());
      const onChanging = await finished(await traced({ name: 'on-changing' }, { parentJobIds: [changing.jobId] }));
      const rerun = await finished(await api.rerunJob({ jobId: changing.jobId }));
      expect(rerun.result?.outputHash).not.to.equal(changing.result?.outputHash);
      // The invalidation follows the rerun's SUCCEEDED write (docs/api.md, RerunJob).
      await until(async () => (await api.getJob({ jobId: onChanging.jobId })).cacheState === CacheState.CACHE_STATE_STALE, 'the rerun to make on-changing STALE');
      expect((await api.getJob({ jobId: changing.jobId })).cacheState).to.equal(CacheState.CACHE_STATE_FRESH);
    });

    it('cancels a running job through its signal, and a waiting one, failing what waits on them', async () => {
      const long = await traced({ name: 'long', ms: 30_000 });
      const waiting = await traced({ name: 'waits' }, { parentJobIds: [long.jobId] });
      await waitForJob(api, long.jobId, (job) => job.status === JobStatus.JOB_STATUS_RUNNING);
      const cancelled = await api.cancelJob({ jobId: long.jobId, reason: 'no longer needed' });
      expect(cancelled.status).to.equal(CANCELLED);
      expect(cancelled.error).to.deep.equal({ reason: 'CANCELLED', message: 'no longer needed', dependencyJobId: '' });
      expect((await finished(waiting)).error).to.deep.include({ reason: 'DEPENDENCY_FAILED', dependencyJobId: long.jobId });
      // The handler saw the abort: it never reached its end, and the worker is free for new jobs.
      expect((await finished(await traced({ name: 'after-cancel' }))).status).to.equal(SUCCEEDED);
      expect(trace.lines().filter((l) => l.jobId === long.jobId).map((l) => l.event)).to.deep.equal(['start']);
      expect((await api.getJob({ jobId: long.jobId })).status).to.equal(CANCELLED);

      // The blocker runs until the test is done with its child, so that the child is still waiting when cancelled.
      const blockerHeld = trace.gate('blocker');
      const blocker = await traced({ name: 'blocker', holdUntil: blockerHeld.path });
      const queuedChild = await traced({ name: 'child' }, { parentJobIds: [blocker.jobId] });
      expect((await api.cancelJob({ jobId: queuedChild.jobId })).status).to.equal(CANCELLED);
      const again = await failure(api.cancelJob({ jobId: queuedChild.jobId }));
      expect(again.code).to.equal(status.FAILED_PRECONDITION);
      blockerHeld.open();
      expect((await finished(blocker)).status).to.equal(SUCCEEDED);
    });

    it('fails a job whose handler returns something that is not JSON', async () => {
      const job = await finished(await traced({ returnNothing: true }));
      expect(job.status).to.equal(FAILED);
      expect(job.error).to.deep.include({ reason: 'HANDLER_ERROR', message: 'the handler returned nothing; it must return a JSON value' });
      expect(trace.starts(job.jobId)).to.equal(2);
    });

    it('refuses what cannot run: an unknown type, a missing parent, a recorded job to cancel', async () => {
      const unknown = await failure(api.submitJob({ type: 'no.such.type' }));
      expect(unknown.code).to.equal(status.FAILED_PRECONDITION);
      expect(unknown.details).to.contain('registered types: echo, fail, merge, sha256, sleep, test.counter, test.traced');
      const missing = await failure(api.submitJob({ type: 'echo', parentJobIds: ['never-recorded'] }));
      expect(statusDetails(missing).errorInfo?.reason).to.equal('PARENT_NOT_FOUND');
      const recorded = await api.recordJob({ type: 'external', status: SUCCEEDED, outputHash: 'h' });
      expect(statusDetails(await failure(api.cancelJob({ jobId: recorded.jobId }))).errorInfo?.reason).to.equal('NOT_CANCELLABLE');
      const report = await api.checkReproducibility({ jobId: recorded.jobId });
      expect(report.issues.map((i) => ReproducibilityIssueReason[i.reason])).to.deep.equal(['REPRODUCIBILITY_ISSUE_REASON_NO_HANDLER']);
    });

    it('starts a job waiting on a recorded job when that job is recorded as finished', async () => {
      const external = await api.recordJob({ type: 'external', status: JobStatus.JOB_STATUS_RUNNING });
      const downstream = await traced({ name: 'downstream' }, { parentJobIds: [external.jobId] });
      expect(downstream.status).to.equal(JobStatus.JOB_STATUS_WAITING);
      await api.recordJob({ jobId: external.jobId, type: 'external', status: SUCCEEDED, outputHash: 'external-output' });
      const done = await finished(downstream);
      expect(done.status).to.equal(SUCCEEDED);
      const lineage = await api.getLineage({ jobId: done.jobId, direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS });
      expect(lineage.nodes.map((n) => n.jobId)).to.deep.equal([external.jobId]);
    });

    it('answers a retried SubmitJob with the same request_id with the same job', async () => {
      const request = { type: 'echo', payload: { hello: 'world' }, requestId: `${prefix}-req` };
      const first = await api.submitJob(request);
      expect(await api.submitJob(request)).to.deep.include({ jobId: first.jobId });
      const reused = await failure(api.submitJob({ ...request, payload: { hello: 'moon' } }));
      expect(reused.code).to.equal(status.ALREADY_EXISTS);
      expect(statusDetails(reused).errorInfo?.reason).to.equal('REQUEST_ID_REUSED');
    });

    it('takes a client-chosen job id, once', async () => {
      const request = { jobId: `${prefix}-named`, type: 'echo', payload: { n: 1 } };
      const named = await api.submitJob(request);
      expect(named.jobId).to.equal(`${prefix}-named`);
      expect((await api.submitJob(request)).jobId).to.equal(named.jobId);
      const clash = await failure(api.submitJob({ ...request, payload: { n: 2 } }));
      expect(clash.code).to.equal(status.ALREADY_EXISTS);
      expect(statusDetails(clash).errorInfo?.reason).to.equal('JOB_ALREADY_EXISTS');
      expect((await api.getJob({ jobId: named.jobId })).payload).to.deep.equal({ n: 1 });
    });
  });
}
