import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus, StartPosition } from '@provenance/client';
import { FAST_EXECUTION, Trace, mongoLane, sqliteLane, waitForJob, type StoreLane } from '../support/execution.js';
import { collectEventsUntil, connect, failure, statusDetails } from '../support/grpc-client.js';
import { deleteQueueKeys, startRedisServer, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, startWorker, type ServerProcess } from '../support/server-process.js';

const { JOB_STATUS_SUCCEEDED: SUCCEEDED, JOB_STATUS_RUNNING: RUNNING } = JobStatus;

/** Workers in processes of their own, killed workers, and a Redis that restarts empty. */
for (const makeLane of [sqliteLane, mongoLane]) {
  describe(`job execution across processes (${makeLane().name})`, function () {
    this.timeout(90_000);
    let lane: StoreLane;
    let trace: Trace;
    const processes: ServerProcess[] = [];
    const start = async (entry: typeof startServer, env: Record<string, string>) => {
      const started = await entry({ ...(await lane.env()), ...FAST_EXECUTION, ...env });
      processes.push(started);
      return started;
    };

    beforeEach(() => {
      lane = makeLane();
      trace = new Trace();
    });
    afterEach(async () => {
      for (const running of processes.splice(0)) await running.stop('SIGKILL');
      trace.dispose();
      await lane.dispose();
    });

    it('runs jobs in a separate worker process (npm run worker) on the same Redis and database', async () => {
      const prefix = uniqueQueuePrefix();
      try {
        const server = await start(startServer, { PROVENANCE_REDIS_PREFIX: prefix, PROVENANCE_IN_PROCESS_WORKERS: 'false' });
        await start(startWorker, { PROVENANCE_REDIS_PREFIX: prefix });
        const api = connect(server.address);
        const parent = await api.submitJob({ type: 'test.traced', payload: { trace: trace.path, name: 'parent' } });
        const child = await api.submitJob({ type: 'echo', payload: { after: parent.jobId }, parentJobIds: [parent.jobId] });
        expect((await waitForJob(api, child.jobId)).status).to.equal(SUCCEEDED);
        expect(server.output()).not.to.match(/"msg":"delivery/);
        api.close();
      } finally {
        await deleteQueueKeys(prefix);
      }
    });

    it('finishes in a second worker the job of a worker killed mid-job, counting the attempt', async () => {
      const prefix = uniqueQueuePrefix();
      try {
        const server = await start(startServer, { PROVENANCE_REDIS_PREFIX: prefix, PROVENANCE_IN_PROCESS_WORKERS: 'false' });
        const first = await start(startWorker, { PROVENANCE_REDIS_PREFIX: prefix });
        const api = connect(server.address);
        const before = (await api.listJobs({ pageSize: 1000 })).jobs.length;
        // Held until the first worker is gone: mid-job when it is killed, however slow the machine.
        const held = trace.gate('first-run');
        const job = await api.submitJob({ type: 'test.traced', payload: { trace: trace.path, holdUntil: held.path } });
        // Mid-job: the handler has started (RUNNING alone may come just before it does).
        for (const deadline = Date.now() + 30_000; trace.starts(job.jobId) === 0; await new Promise((resolve) => setTimeout(resolve, 25))) {
          expect(Date.now(), 'the first worker never started the job').to.be.below(deadline);
        }
        expect((await api.getJob({ jobId: job.jobId })).status).to.equal(RUNNING);
        expect(await first.stop('SIGKILL')).to.equal(null);

        held.open();
        await start(startWorker, { PROVENANCE_REDIS_PREFIX: prefix });
        const done = await waitForJob(api, job.jobId);
        expect(done).to.deep.include({ status: SUCCEEDED, attempt: 2 });
        expect(trace.starts(job.jobId)).to.equal(2);
        expect((await api.listJobs({ pageSize: 1000 })).jobs.length).to.equal(before + 1);
        api.close();
      } finally {
        await deleteQueueKeys(prefix);
      }
    });

    it('applies the job timeout, the cache age and the output size limit from the configuration', async () => {
      const server = await start(startServer, { PROVENANCE_JOB_TIMEOUT_MS: '300', PROVENANCE_CACHE_TTL: '1', PROVENANCE_MAX_OUTPUT_BYTES: '20' });
      const api = connect(server.address);
      try {
        const slow = await waitForJob(api, (await api.submitJob({ type: 'test.traced', payload: { trace: trace.path, ms: 5000 } })).jobId);
        expect(slow).to.deep.include({ status: JobStatus.JOB_STATUS_FAILED, attempt: 2 });
        expect(slow.error).to.deep.include({ reason: 'TIMEOUT', message: 'timed out after 300 ms' });
        expect(trace.lines().filter((l) => l.jobId === slow.jobId).map((l) => l.event)).to.deep.equal(['start', 'start']);

        const big = await waitForJob(api, (await api.submitJob({ type: 'echo', payload: { text: 'more than twenty bytes' } })).jobId);
        expect(big.result).to.deep.include({ cached: false, output: undefined });
        expect(big.result?.outputHash).to.have.length(64);
        const small = await waitForJob(api, (await api.submitJob({ type: 'echo', payload: { a: 1 } })).jobId);
        expect(small.result?.output).to.deep.equal({ a: 1 });

        await new Promise((resolve) => setTimeout(resolve, 1100));
        const later = await waitForJob(api, (await api.submitJob({ type: 'echo', payload: { a: 1 } })).jobId);
        expect(later.result?.cached, 'a result older than PROVENANCE_CACHE_TTL is not reused').to.equal(false);
      } finally {
        api.close();
      }
    });

    it('refuses an unchanged rerun whose definition hash changed with the hashing configuration', async () => {
      const first = await start(startServer, {});
      let api = connect(first.address);
      const job = await waitForJob(api, (await api.submitJob({ type: 'echo', payload: { text: 'x', stamp: 'monday' } })).jobId);
      api.close();
      await first.stop();
      const second = await start(startServer, { PROVENANCE_VOLATILE_KEYS: 'stamp' });
      api = connect(second.address);
      try {
        const refused = await failure(api.rerunJob({ jobId: job.jobId }));
        expect(refused.code).to.equal(status.FAILED_PRECONDITION);
        expect(statusDetails(refused).errorInfo?.reason).to.equal('DEFINITION_HASH_MISMATCH');
        const changed = await api.rerunJob({ jobId: job.jobId, payloadChange: { $case: 'payloadOverrides', value: { stamp: 'tuesday' } } });
        expect(changed.definitionHash).not.to.equal(job.definitionHash);
      } finally {
        api.close();
      }
    });

    it('survives a Redis restart: UNAVAILABLE meanwhile, then every job runs and nothing is lost', async () => {
      const redis = await startRedisServer();
      const server = await start(startServer, { REDIS_URL: redis.url, PROVENANCE_REDIS_PREFIX: 'restart' });
      const api = connect(server.address);
      try {
        const running = await api.submitJob({ type: 'test.traced', payload: { trace: trace.path, name: 'running', ms: 1500 } });
        const waiting = await api.submitJob({ type: 'test.traced', payload: { trace: trace.path, name: 'waiting' }, parentJobIds: [running.jobId] });
        await waitForJob(api, running.jobId, (j) => j.status === RUNNING);
        await redis.stop();

        const request = { type: 'test.traced', payload: { trace: trace.path, name: 'during' }, requestId: 'during-outage' };
        const refused = await failure(api.submitJob(request));
        expect(refused.code).to.equal(status.UNAVAILABLE);
        const details = statusDetails(refused);
        expect(details.errorInfo?.reason).to.equal('QUEUE_UNAVAILABLE');
        const marked = await api.getJob({ jobId: details.resourceInfo!.resourceName.slice('jobs/'.length) });
        expect(marked).to.deep.include({ status: JobStatus.JOB_STATUS_QUEUED });
        expect(marked.error?.reason).to.equal('ENQUEUE_FAILED');

        const restarted = await startRedisServer(redis.port);
        try {
          // As a client does on UNAVAILABLE: retry with the same request_id until the queue is back.
          let during: Awaited<ReturnType<typeof api.submitJob>> | undefined;
          for (let attempt = 0; !during; attempt++) {
            during = await api.submitJob(request).catch(async (error: { code?: number }) => {
              if (error.code !== status.UNAVAILABLE || attempt === 50) throw error;
              await new Promise((resolve) => setTimeout(resolve, 200));
              return undefined;
            });
          }
          expect(during.jobId).to.equal(marked.jobId);
          for (const job of [running, waiting, during]) expect((await waitForJob(api, job.jobId, undefined, 30_000)).status, job.jobId).to.equal(SUCCEEDED);
          expect(trace.starts(waiting.jobId)).to.equal(1);
          expect((await api.listJobs({ pageSize: 1000 })).jobs).to.have.length(3);
        } finally {
          await restarted.stop();
        }
      } finally {
        api.close();
      }
    });

    // Issue #12: a refused enqueue recorded FAILED with job.provenance.completed, so a job "completed" once per retry before it ran.
    it('keeps a job whose enqueue Redis refused QUEUED, runs it once Redis is back, and completes it once', async () => {
      const redis = await startRedisServer();
      const outage = { REDIS_URL: redis.url, PROVENANCE_REDIS_PREFIX: 'outage' };
      const server = await start(startServer, { ...outage, PROVENANCE_IN_PROCESS_WORKERS: 'false' });
      const api = connect(server.address);
      try {
        await redis.stop();
        const request = { type: 'echo', payload: { text: 'submitted during the outage' }, requestId: 'outage-submit' };
        let jobId: string | undefined;
        for (let attempt = 0; attempt < 4; attempt++) {
          const refused = await failure(api.submitJob(request));
          expect(refused.code).to.equal(status.UNAVAILABLE);
          const details = statusDetails(refused);
          expect(details.errorInfo?.reason).to.equal('QUEUE_UNAVAILABLE');
          expect(details.retryInfo?.retryDelay).to.not.equal(undefined);
          const named = details.resourceInfo!.resourceName.slice('jobs/'.length);
          expect(named).to.equal(jobId ?? named);
          jobId = named;
        }
        const marked = await api.getJob({ jobId });
        expect(marked.status).to.equal(JobStatus.JOB_STATUS_QUEUED);
        expect(marked.error).to.deep.include({ reason: 'ENQUEUE_FAILED' });

        const restarted = await startRedisServer(redis.port);
        try {
          // Nobody retries now: the repair sweep of a worker (here one that starts now) enqueues the job.
          await start(startWorker, outage);
          const done = await waitForJob(api, jobId!, undefined, 30_000);
          expect(done.status).to.equal(SUCCEEDED);
          expect(done.error).to.equal(undefined);
          const again = await api.submitJob(request);
          expect(again).to.deep.include({ jobId, status: SUCCEEDED });

          // The job's events in the order they were committed (the outbox kept those of the outage), up to its success.
          const stream = api.events({ jobIds: [jobId!], startPosition: StartPosition.START_POSITION_OLDEST });
          const { events } = await collectEventsUntil(
            stream,
            (seen) => seen.some((event) => event.type === 'job.provenance.completed' && event.status === SUCCEEDED),
            'its completion as SUCCEEDED',
          );
          stream.cancel();
          expect(events.map((event) => event.type)).to.deep.equal([
            'compute.job.submitted',
            'job.provenance.created',
            'compute.job.enqueue_failed',
            'compute.job.started',
            'compute.job.completed',
            'job.provenance.completed',
          ]);
          expect(events[2]).to.deep.include({ status: JobStatus.JOB_STATUS_QUEUED });
          expect(events[2]!.error).to.deep.include({ reason: 'ENQUEUE_FAILED' });
        } finally {
          await restarted.stop();
        }
      } finally {
        api.close();
      }
    });
  });
}
