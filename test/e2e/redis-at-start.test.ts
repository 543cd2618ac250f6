import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { JobStatus } from '@provenance/client';
import { FAST_EXECUTION, waitForJob } from '../support/execution.js';
import { connect, type Client } from '../support/grpc-client.js';
import { findFreePort } from '../support/net.js';
import { deleteQueueKeys, startRedisServer, TEST_REDIS_URL, uniqueQueuePrefix, type RedisServerProcess } from '../support/redis.js';
import { startServer, startWorker, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/waits.js';

describe('a server and a worker started before Redis', function () {
  this.timeout(120_000);
  let directory: string;
  let redis: RedisServerProcess | undefined;
  const started: ServerProcess[] = [];
  let api: Client | undefined;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-redis-at-start-'));
  });

  after(async () => {
    api?.close();
    await Promise.all(started.map((process) => process.stop()));
    await redis?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('wait for it instead of exiting, then serve and run jobs', async () => {
    const port = await findFreePort();
    const prefix = uniqueQueuePrefix();
    const env = {
      REDIS_URL: `redis://127.0.0.1:${port}`,
      PROVENANCE_REDIS_PREFIX: prefix,
      PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'),
      PROVENANCE_IN_PROCESS_WORKERS: 'false',
      ...FAST_EXECUTION,
    };
    const waiting = { server: '', worker: '' };
    const serving = startServer(env, [], (output) => (waiting.server = output));
    const working = startWorker(env, [], (output) => (waiting.worker = output));
    await until(() => /Redis connection lost/.test(waiting.server) && /Redis connection lost/.test(waiting.worker), 'both to say that Redis does not answer', 60_000);

    redis = await startRedisServer(port);
    const [server, worker] = await Promise.all([serving, working]);
    started.push(server, worker);
    expect(server.output()).to.match(/Redis connection back/);
    expect(worker.output()).to.match(/Redis connection back/);
    expect(server.output()).not.to.match(/cannot start/);

    api = connect(server.address);
    const job = await api.submitJob({ type: 'echo', payload: { text: 'after Redis came' } });
    expect((await waitForJob(api, job.jobId)).status).to.equal(JobStatus.JOB_STATUS_SUCCEEDED);
    await deleteQueueKeys(prefix, redis.url);
  });

  it('still stop at a Redis that answers but refuses them', async () => {
    // The shared Redis knows no such user: it refuses AUTH, which waiting would not change.
    const refused = await startServer({ REDIS_URL: `${TEST_REDIS_URL.replace('redis://', 'redis://no-such-user:not-the-password@')}`, PROVENANCE_SQLITE_PATH: join(directory, 'refused.db') }).then(
      (server) => void started.push(server),
      (error: Error) => error,
    );
    expect(refused?.message).to.match(/exited with code 1 before serving/);
    expect(refused?.message).to.match(/cannot start/);
    expect(refused?.message).to.match(/WRONGPASS/);
  });
});
