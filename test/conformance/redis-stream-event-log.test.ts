import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { ProvenanceError } from '../../src/domain/errors.js';
import { EVENT_LOG_UNAVAILABLE, RedisStreamEventLog } from '../../src/adapters/redis-streams/redis-stream-event-log.js';
import { findFreePort } from '../support/net.js';
import { deleteQueueKeys, startRedisServer, TEST_REDIS_URL, uniqueQueuePrefix } from '../support/redis.js';
import { event, expectUnavailable, fullEvent, runEventLogConformance, withoutCursor } from './event-log.js';
import { rejection, sleep, until } from '../support/waits.js';

const DAY_SECONDS = 24 * 60 * 60;
/**
 * What "at once" allows on a busy machine: what it rules out is waiting for
 * Redis to come back (never, in these tests), for ioredis's connect timeout
 * (10 s) or for a blocking read's wait (15 s).
 */
const FAIL_FAST_MS = 5000;

describe('Redis Streams event log', function () {
  const namespaces: string[] = [];
  function newNamespace(): string {
    const namespace = uniqueQueuePrefix();
    namespaces.push(namespace);
    return namespace;
  }
  const streamKey = (namespace: string) => `${namespace}:events`;

  runEventLogConformance({
    name: 'Redis Streams',
    newNamespace,
    open: (namespace, retention) => RedisStreamEventLog.connect({ redisUrl: TEST_REDIS_URL, key: streamKey(namespace), retention }),
    async dispose() {
      await deleteQueueKeys(namespaces.splice(0));
    },
  });

  describe('on Redis', function () {
    this.timeout(30_000);

    after(async () => {
      await deleteQueueKeys(namespaces.splice(0));
    });

    it("keeps each job's last seq, and what each seq was, for a day after the job's last append", async () => {
      const key = streamKey(newNamespace());
      const log = await RedisStreamEventLog.connect({ redisUrl: TEST_REDIS_URL, key, retention: { maxCount: 100 } });
      const redis = new Redis(TEST_REDIS_URL);
      try {
        await log.append([event('job-a', 1), event('job-b', 1)]);
        await redis.expire(`${key}:seq:job-a`, 5);
        await log.append([event('job-a', 2)]);
        expect(await redis.get(`${key}:seq:job-a`)).to.equal('2');
        expect(await redis.ttl(`${key}:seq:job-a`)).to.be.within(DAY_SECONDS - 5, DAY_SECONDS);
        expect(await redis.ttl(`${key}:seq:job-b`)).to.be.within(DAY_SECONDS - 5, DAY_SECONDS);
        expect(Object.keys(await redis.hgetall(`${key}:appended:job-a`))).to.deep.equal(['1', '2']);
        for (const job of ['job-a', 'job-b']) expect(await redis.ttl(`${key}:appended:${job}`)).to.be.within(DAY_SECONDS - 5, DAY_SECONDS);
      } finally {
        redis.disconnect();
        await log.close();
      }
    });

    it('refuses arguments it cannot serve with RangeError', async () => {
      const key = streamKey(newNamespace());
      for (const retention of [{ maxCount: 0 }, { maxAgeMs: 1.5 }, {}, { maxCount: 10, maxAgeMs: 10 }]) {
        const error = await rejection(RedisStreamEventLog.connect({ redisUrl: TEST_REDIS_URL, key, retention: retention as { maxCount: number } }));
        expect(error, JSON.stringify(retention)).to.be.instanceOf(RangeError);
      }
      const log = await RedisStreamEventLog.connect({ redisUrl: TEST_REDIS_URL, key, retention: { maxCount: 100 } });
      try {
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['limit 0', () => log.read(undefined, 0)],
          ['not a cursor', () => log.read('12', 10)],
          ['a cursor past 2^64', () => log.read('18446744073709551616-0', 10)],
          ['no wait', () => log.readBlocking('0-0', 10, 0)],
          ['seq 0', () => log.append([event('job-a', 0)])],
        ];
        for (const [name, call] of calls) expect(await rejection(call()), name).to.be.instanceOf(RangeError);
        expect(await log.read('18446744073709551615-18446744073709551615', 10)).to.deep.equal([]);
      } finally {
        await log.close();
      }
    });

    it('connect rejects with UNAVAILABLE at once when Redis cannot be reached', async () => {
      const port = await findFreePort();
      const started = Date.now();
      const error = await rejection(RedisStreamEventLog.connect({ redisUrl: `redis://127.0.0.1:${port}`, key: 'unreachable', retention: { maxCount: 10 } }));
      expect(Date.now() - started).to.be.below(FAIL_FAST_MS);
      expectEventLogUnavailable(error, port);
    });

    it('fails fast with UNAVAILABLE while Redis is down; after a restart with persistence, calls onReady, keeps events and cursors, and appends again', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'event-log-redis-'));
      let server = await startRedisServer(undefined, { appendOnlyDir: dir });
      const errors: unknown[] = [];
      const log = await RedisStreamEventLog.connect({ redisUrl: server.url, key: 'restart:events', retention: { maxCount: 1000 }, onError: (error) => errors.push(error) });
      try {
        let readyCalls = 0;
        log.onReady(() => readyCalls++);
        await until(() => readyCalls === 1, 'onReady at connection');
        const before = [event('job-a', 1), fullEvent('job-b', 1)];
        await log.append(before);
        const logged = await log.read(undefined, 10);
        const bounds = await log.bounds();

        const blocked = rejection(log.readBlocking(bounds.newest, 10, 15_000));
        await sleep(100);
        await server.stop();
        let started = Date.now();
        expectEventLogUnavailable(await blocked, server.port);
        expect(Date.now() - started, 'the blocked read').to.be.below(FAIL_FAST_MS);
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['append', () => log.append([event('job-a', 2)])],
          ['read', () => log.read(undefined, 10)],
          ['readBlocking', () => log.readBlocking(bounds.newest, 10, 15_000)],
          ['bounds', () => log.bounds()],
          ['ping', () => log.ping()],
        ];
        for (const [name, call] of calls) {
          started = Date.now();
          expectEventLogUnavailable(await rejection(call()), server.port, name);
          expect(Date.now() - started, name).to.be.below(FAIL_FAST_MS);
        }
        await until(() => errors.length > 0, 'onError to hear of the failed reconnections');

        server = await startRedisServer(server.port, { appendOnlyDir: dir });
        await until(() => readyCalls === 2, 'onReady after the restart', 10_000);
        expect(await log.read(undefined, 10)).to.deep.equal(logged);
        expect(await log.bounds()).to.deep.equal(bounds);
        // Redis keeps no scripts across a restart: the append below must load its script again.
        expect(await cachedScripts(server.url)).to.equal(0);
        // The jobs' last seqs were kept too.
        await log.append(before);
        await log.append([event('job-a', 2)]);
        expect(await cachedScripts(server.url)).to.equal(1);
        const all = await log.read(undefined, 10);
        expect(all.slice(0, 2)).to.deep.equal(logged);
        expect(all.map(withoutCursor)).to.deep.equal([...before, event('job-a', 2)]);
        expect(await log.readBlocking(bounds.newest, 10, 1000)).to.deep.equal(all.slice(2));
      } finally {
        await log.close();
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});

function expectEventLogUnavailable(error: unknown, port: number, what?: string): void {
  expectUnavailable(error, what);
  expect((error as ProvenanceError).reason, what).to.equal(EVENT_LOG_UNAVAILABLE);
  expect((error as ProvenanceError).message, what).to.not.match(new RegExp(`127\\.0\\.0\\.1|${port}`));
}

async function cachedScripts(redisUrl: string): Promise<number> {
  const redis = new Redis(redisUrl);
  try {
    return Number(/number_of_cached_scripts:(\d+)/.exec(await redis.info('memory'))?.[1]);
  } finally {
    redis.disconnect();
  }
}
