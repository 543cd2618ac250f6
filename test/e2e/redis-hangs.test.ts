import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus, StartPosition } from '@provenance/client';
import { sqliteLane, waitForJob, type StoreLane } from '../support/execution.js';
import { collectEvents, connect, failure, statusDetails } from '../support/grpc-client.js';
import { startRedisServer, type RedisServerProcess } from '../support/redis.js';
import { printServerWarningsOnFailure, startServer, type ServerProcess } from '../support/server-process.js';

/** Far beyond PROVENANCE_REDIS_TIMEOUT_MS below: a call that waits on the stopped Redis fails naming itself. */
const CALL_TIMEOUT_MS = 30_000;

describe('when Redis hangs (accepts connections, answers nothing)', function () {
  this.timeout(120_000);
  let lane: StoreLane;
  let redis: RedisServerProcess;
  let server: ServerProcess;

  before(async () => {
    lane = sqliteLane();
    // A Redis of the test's own: stopping the process is how it hangs.
    redis = await startRedisServer();
    server = await startServer({
      ...(await lane.env()),
      REDIS_URL: redis.url,
      PROVENANCE_REDIS_TIMEOUT_MS: '1000',
      PROVENANCE_EVENT_RELAY_INTERVAL_MS: '300',
      PROVENANCE_REPAIR_INTERVAL_MS: '300',
    });
  });
  printServerWarningsOnFailure(() => server);
  after(async () => {
    redis?.resume();
    await server?.stop();
    await redis?.stop();
    await lane?.dispose();
  });

  it('records a job with its events left in the outbox, refuses a submission UNAVAILABLE, and delivers and runs both once Redis answers again', async () => {
    const api = connect(server.address, { timeoutMs: CALL_TIMEOUT_MS });
    try {
      await api.recordJob({ type: 'before', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'b' });
      redis.pause();

      const during = await api.recordJob({ type: 'during', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'd' });
      expect((await api.getJob({ jobId: during.jobId })).status).to.equal(JobStatus.JOB_STATUS_SUCCEEDED);
      const refused = await failure(api.submitJob({ type: 'echo', payload: { said: 'during' }, requestId: 'submitted-while-redis-hangs' }));
      expect(refused.code, refused.message).to.equal(status.UNAVAILABLE);
      expect(statusDetails(refused).errorInfo?.reason).to.equal('QUEUE_UNAVAILABLE');

      redis.resume();
      const { events } = await collectEvents(api.events({ startPosition: StartPosition.START_POSITION_OLDEST, jobIds: [during.jobId] }), 3);
      expect(events.map((event) => event.jobId)).to.deep.equal([during.jobId, during.jobId, during.jobId]);
      // The retry of the refused submission names the job it stored; the repair sweep has enqueued it, or this retry does.
      const submitted = await api.submitJob({ type: 'echo', payload: { said: 'during' }, requestId: 'submitted-while-redis-hangs' });
      expect((await waitForJob(api, submitted.jobId)).status).to.equal(JobStatus.JOB_STATUS_SUCCEEDED);
    } finally {
      api.close();
    }
  });
});
