import { Redis, ReplyError } from 'ioredis';
import type { WatchedConnection } from './redis-connection-watch.js';
import { isRedisUnreachable } from './redis-errors.js';

const RETRY_MS = { first: 250, most: 5_000 } as const;

/**
 * Resolves once Redis at url answers a PING, trying again (250 ms, doubling
 * to 5 s) for as long as it cannot be reached, so that a process started
 * before Redis, or while it restarts, comes up once Redis does instead of
 * exiting. Redis answering with a refusal (a wrong password, a user it does
 * not know) rejects at once: waiting would not change it. The connection's
 * watch logs that Redis is lost and, once it answers, back.
 */
export async function untilRedisAnswers(url: string, connection: WatchedConnection): Promise<void> {
  let delayMs: number = RETRY_MS.first;
  for (;;) {
    const refusal = await ping(url, connection);
    if (refusal === undefined) return;
    if (!isRedisUnreachable(refusal)) throw refusal;
    connection.failed(refusal);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, RETRY_MS.most);
  }
}

/** One attempt: undefined when Redis answered; otherwise the reason, a reply of Redis's own before a failure of the connection. */
async function ping(url: string, connection: WatchedConnection): Promise<Error | undefined> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let replied: Error | undefined;
  // An AUTH refusal arrives as an event, and connect() then fails only with "Connection is closed".
  client.on('error', (error: Error) => {
    if (error instanceof ReplyError) replied ??= error;
  });
  try {
    await client.connect();
    await client.ping();
    connection.ready();
    return undefined;
  } catch (error) {
    return replied ?? (error instanceof Error ? error : new Error(String(error)));
  } finally {
    client.disconnect();
  }
}
