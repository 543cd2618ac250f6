import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { ProvenanceError } from '../../src/domain/errors.js';
import type { QueueDelivery } from '../../src/domain/ports/job-queue.js';
import { BeeQueueJobQueue, type BeeQueueJobQueueOptions } from '../../src/adapters/bee-queue/bee-queue-job-queue.js';
import { findFreePort } from '../support/net.js';
import { deleteQueueKeys, startRedisServer, TEST_REDIS_URL, uniqueQueuePrefix } from '../support/redis.js';
import { runJobQueueConformance } from './job-queue.js';
import { rejection, sleep, until } from '../support/waits.js';

const FAST = { retries: 1, backoffMs: 50, stallIntervalMs: 500 };
/**
 * What "at once" allows on a busy machine: what it rules out is waiting for
 * Redis to come back (never, in these tests) or for ioredis's connect
 * timeout (10 s).
 */
const FAIL_FAST_MS = 5000;

describe('bee-queue job queue', function () {
  const prefixes: string[] = [];
  function newPrefix(): string {
    const prefix = uniqueQueuePrefix();
    prefixes.push(prefix);
    return prefix;
  }

  runJobQueueConformance({
    name: 'bee-queue on Redis',
    newNamespace: newPrefix,
    open: (prefix, tuning) => BeeQueueJobQueue.connect({ redisUrl: TEST_REDIS_URL, prefix, ...tuning }),
    async dispose() {
      await deleteQueueKeys(prefixes.splice(0));
    },
  });

  describe('when Redis is away', function () {
    this.timeout(30_000);

    after(async () => {
      await deleteQueueKeys(prefixes.splice(0));
    });

    it('connect rejects with UNAVAILABLE at once when Redis cannot be reached', async () => {
      const port = await findFreePort();
      const started = Date.now();
      const error = await rejection(BeeQueueJobQueue.connect({ redisUrl: `redis://127.0.0.1:${port}`, prefix: 'unreachable', ...FAST }));
      expect(Date.now() - started).to.be.below(FAIL_FAST_MS);
      expectUnavailable(error, port);
    });

    it('fails fast with UNAVAILABLE while Redis is down, calls onReady when it is back, and takes jobs again', async () => {
      let server = await startRedisServer();
      const errors: unknown[] = [];
      const queue = await BeeQueueJobQueue.connect({ redisUrl: server.url, prefix: 'restart', ...FAST, onError: (error) => errors.push(error) });
      try {
        let readyCalls = 0;
        queue.onReady(() => readyCalls++);
        const delivered: string[] = [];
        queue.process(2, async ({ jobId }) => {
          delivered.push(jobId);
        });
        await until(() => readyCalls === 1, 'onReady at connection');
        await queue.enqueue('before');
        await until(() => delivered.includes('before'), "'before' to be delivered");

        await server.stop();
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['enqueue', () => queue.enqueue('during')],
          ['holding', () => queue.holding(['before'])],
          ['cancel', () => queue.cancel('before')],
          ['ping', () => queue.ping()],
        ];
        for (const [name, call] of calls) {
          const started = Date.now();
          const error = await rejection(call());
          expect(Date.now() - started, name).to.be.below(FAIL_FAST_MS);
          expectUnavailable(error, server.port);
        }
        // Several at once: each id is refused on its own.
        const refusals = await queue.enqueueAll(['during-1', 'during-2']);
        expect(refusals).to.have.length(2);
        for (const error of refusals) expectUnavailable(error, server.port);
        // Down long enough for bee-queue's own retries of its blocking read, 1, 2, 4, 8 s apart,
        // to miss the return by seconds: the delivery below would then come too late.
        await sleep(7500);
        expect(errors).to.not.deep.equal([]);

        server = await startRedisServer(server.port);
        await until(() => readyCalls === 2, 'onReady after the restart');
        // The restarted Redis kept nothing: the caller re-enqueues from its records.
        expect(await queue.holding(['before', 'during'])).to.deep.equal(new Set());
        await queue.enqueue('after');
        // bee-queue's own next retry comes 15 s after the stop, 7.5 s from here: the delivery must come well before.
        await until(() => delivered.includes('after'), "'after' to be delivered", 5000);
        expect(delivered).to.deep.equal(['before', 'after']);
      } finally {
        await queue.close(1000);
        await server.stop();
      }
    });
  });

  describe('a worker process killed mid-job', function () {
    this.timeout(30_000);

    after(async () => {
      await deleteQueueKeys(prefixes.splice(0));
    });

    it('leaves its job to another worker, with the retries untouched', async () => {
      const options: BeeQueueJobQueueOptions = { redisUrl: TEST_REDIS_URL, prefix: newPrefix(), ...FAST };
      const child = spawn(process.execPath, ['--input-type=module', '-e', HANGING_WORKER], {
        env: { ...process.env, ADAPTER_URL: ADAPTER_URL.href, QUEUE_OPTIONS: JSON.stringify(options) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      let output = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => (output += chunk));
      const survivor = await BeeQueueJobQueue.connect(options);
      try {
        await until(() => output.includes('processing\n'), 'the child worker to start');
        await survivor.enqueue('orphan');
        await until(() => output.includes('running orphan\n'), 'the child worker to take the job');
        child.kill('SIGKILL');
        await exited;

        const deliveries: QueueDelivery[] = [];
        survivor.process(1, async (delivery) => {
          deliveries.push(delivery);
        });
        await until(() => deliveries.length === 1, 'the job to be delivered again', 4 * FAST.stallIntervalMs + 10_000);
        expect(deliveries.map((d) => [d.jobId, d.finalAttempt])).to.deep.equal([['orphan', false]]);
      } finally {
        child.kill('SIGKILL');
        await exited;
        await survivor.close(1000);
      }
    });
  });
});

const ADAPTER_URL = new URL('../../src/adapters/bee-queue/bee-queue-job-queue.js', import.meta.url);

/** A worker process that takes jobs and never finishes them. */
const HANGING_WORKER = `
const { BeeQueueJobQueue } = await import(process.env.ADAPTER_URL);
const queue = await BeeQueueJobQueue.connect(JSON.parse(process.env.QUEUE_OPTIONS));
queue.process(1, async ({ jobId }) => {
  process.stdout.write('running ' + jobId + '\\n');
  await new Promise(() => {});
});
process.stdout.write('processing\\n');
`;

function expectUnavailable(error: unknown, port: number): void {
  expect(error).to.be.instanceOf(ProvenanceError);
  expect((error as ProvenanceError).code).to.equal('UNAVAILABLE');
  expect((error as ProvenanceError).message).to.not.match(new RegExp(`127\\.0\\.0\\.1|${port}`));
}
