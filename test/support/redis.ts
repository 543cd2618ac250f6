import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { findFreePort } from './net.js';

/** The shared Redis the tests use (REDIS_URL, else the local one); each run keeps to key prefixes of its own. */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const RUN_PREFIX = `provtest:${process.pid}:${randomBytes(4).toString('hex')}`;
let prefixes = 0;

/** A key prefix no other run, and no other caller in this run, uses. */
export function uniqueQueuePrefix(): string {
  return `${RUN_PREFIX}:${++prefixes}`;
}

/**
 * Deletes every key under the prefixes (keys named "<prefix>:..."), by SCAN
 * and UNLINK; resolves with how many there were. Prefixes of this run's
 * (uniqueQueuePrefix) are deleted in one pass over the keys, 10,000 a step:
 * other runs may have left millions.
 */
export async function deleteQueueKeys(prefixes: string | readonly string[], redisUrl = TEST_REDIS_URL): Promise<number> {
  const all = typeof prefixes === 'string' ? [prefixes] : prefixes;
  if (all.length === 0) return 0;
  const ours = all.every((prefix) => prefix.startsWith(`${RUN_PREFIX}:`));
  const passes = ours && all.length > 1 ? [`${RUN_PREFIX}:`] : all.map((prefix) => `${prefix}:`);
  const wanted = (key: string) => all.some((prefix) => key.startsWith(`${prefix}:`));
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  // A failed connection rejects connect() below; without a listener ioredis would also print it.
  redis.on('error', () => {});
  let deleted = 0;
  try {
    await redis.connect();
    for (const pass of passes) {
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${escapeGlob(pass)}*`, 'COUNT', 10_000);
        const keys = found.filter(wanted);
        if (keys.length > 0) deleted += await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** A redis-server process of the test's own: killing it is how a test takes Redis away. */
export interface RedisServerProcess {
  port: number;
  url: string;
  /** Kills the server (SIGKILL, as a crash would) and waits until it has exited; later calls do nothing. */
  stop(): Promise<void>;
  /** Stops the process (SIGSTOP): a Redis that keeps its connections open and answers nothing, until resume(). */
  pause(): void;
  resume(): void;
}

const REDIS_SERVER_BINARY = process.env.REDIS_SERVER_BINARY ?? '/usr/bin/redis-server';
const STARTUP_TIMEOUT_MS = 10_000;
const OUTPUT_TAIL_CHARS = 4_000;

export interface RedisServerOptions {
  /**
   * A folder for an append-only file, written through on every write, so that
   * a server killed and started again on the same folder has all its data
   * back. Without it the server keeps nothing on disk and restarts empty.
   */
  appendOnlyDir?: string;
}

/** Starts redis-server on port (a free one when absent; the port of a stopped server to restart it) and resolves once it accepts connections. */
export async function startRedisServer(port?: number, options: RedisServerOptions = {}): Promise<RedisServerProcess> {
  const chosenPort = port ?? (await findFreePort());
  const persistence = options.appendOnlyDir
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.appendOnlyDir]
    : ['--appendonly', 'no'];
  const child = spawn(REDIS_SERVER_BINARY, ['--port', String(chosenPort), '--bind', '127.0.0.1', '--save', '', ...persistence], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test process that dies without stopping its server must not leave it behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    // No pid: the process never started, so there is no exit to wait for.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const fail = (reason: string) => {
      clearTimeout(timer);
      reject(new Error(`redis-server on port ${chosenPort} ${reason}; output: ${output || '(empty)'}`));
    };
    const timer = setTimeout(() => fail(`did not accept connections within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    child.once('error', (error) => fail(`could not be started (${error.message})`));
    void exited.then(() => fail(`exited before it was ready (code ${child.exitCode}, signal ${child.signalCode})`));
    // Keeps reading after the line, so that a full pipe never blocks the server.
    const read = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
  });

  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port: chosenPort,
    url: `redis://127.0.0.1:${chosenPort}`,
    stop,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
  };
}
