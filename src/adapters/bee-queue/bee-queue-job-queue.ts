import { createRequire } from 'node:module';
import BeeQueue from 'bee-queue';
import { Redis, type RedisOptions } from 'ioredis';
import { unavailable } from '../../domain/errors.js';
import type { JobQueue, QueueDelivery, QueueDepth } from '../../domain/ports/job-queue.js';
import { translateRedisError } from '../shared/redis-errors.js';

export interface BeeQueueJobQueueOptions {
  redisUrl: string;
  /** Prefix of every Redis key and channel, so that deployments and test runs can share one Redis. */
  prefix: string;
  /** The queue's name under the prefix; default "jobs". */
  queueName?: string;
  /** How many more times a delivery that rejects is tried. */
  retries: number;
  /** Wait before the first retry; each later retry waits twice as long as the one before. */
  backoffMs: number;
  /**
   * How long a worker may go without renewing the lock on its job before the
   * job is handed out again, and how often workers look for such jobs.
   */
  stallIntervalMs: number;
  /** Errors the queue gets over by itself (a lost connection, a failed background check): for the log. */
  onError?: (error: unknown) => void;
  /** How long a command of the command connection (an enqueue, a ping) waits for its reply before it fails; none when absent. */
  commandTimeoutMs?: number;
}

/** Why a delivery's signal was aborted; handlers see it as signal.reason. */
export class DeliveryAborted extends Error {
  override readonly name = 'AbortError';

  constructor(
    readonly jobId: string,
    readonly why: 'cancelled' | 'shutdown',
  ) {
    super(why === 'cancelled' ? `job ${jobId} was cancelled` : `the worker stopped before job ${jobId} finished`);
  }
}

const DEFAULT_QUEUE_NAME = 'jobs';
/** Replies keep ioredis's default (RESP2) shapes, which is what bee-queue reads. */
type ConnectionOptions = Omit<RedisOptions, 'replyMapping'>;
const MAX_RECONNECT_DELAY_MS = 1000;

/**
 * The connection that answers callers: while Redis is unreachable, commands
 * fail at once instead of waiting in ioredis's offline queue, one that was
 * under way when the connection dropped gets one reconnection attempt, and
 * reconnection goes on in the background. A Redis that holds its connections
 * without answering fails each command after commandTimeoutMs (connect()).
 */
const COMMAND_CONNECTION: ConnectionOptions = {
  // Commands issued in the same tick (by concurrent deliveries and submissions) go out in one write.
  enableAutoPipelining: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
};

/**
 * bee-queue's own connections (the blocking BRPOPLPUSH of the workers, the
 * subscriber) and ours for cancellations wait an outage out: their commands
 * are sent again once Redis is back, and none times out (a blocking command
 * waits by design). With the command connection's settings, the BRPOPLPUSH
 * fails while Redis is down and bee-queue waits ever longer (1 s, 2 s,
 * 4 s, ...) before it tries again.
 */
const BACKGROUND_CONNECTION: ConnectionOptions = { enableAutoPipelining: false, enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined };

/**
 * bee-queue uses a client it is given only when the client's constructor is
 * named Redis or RedisClient, which ioredis's is not (bee-queue#484), and it
 * makes its other connections with duplicate(). Every duplicate is kept, so
 * that close() can end every connection whatever state bee-queue is in.
 */
class RedisClient extends Redis {
  readonly duplicates = new Set<Redis>();

  override duplicate(override?: ConnectionOptions): Redis {
    const connection = new Redis({ ...this.options, ...BACKGROUND_CONNECTION, lazyConnect: false, ...override });
    this.duplicates.add(connection);
    return connection;
  }
}

/**
 * bee-queue's loader of its Lua scripts. bee-queue runs them by EVALSHA and
 * loads them only when it connects, so a Redis that restarted empty answers
 * NOSCRIPT until they are loaded again.
 */
const beeQueueScripts = createRequire(import.meta.url)('bee-queue/lib/lua/index.js') as {
  buildCache(client: Redis): Promise<unknown>;
};

/**
 * The JobQueue port on bee-queue. Each job is a bee-queue job whose id is the
 * job id and whose data is empty; finished jobs are removed from Redis at
 * once (the provenance store keeps the record), so the bee-queue "jobs" hash
 * holds exactly the waiting, delayed and active ids.
 */
export class BeeQueueJobQueue implements JobQueue {
  /** Running deliveries by job id: a job whose lock lapsed can run twice in one process. */
  private readonly running = new Map<string, Set<AbortController>>();
  private readonly readyListeners: Array<() => void> = [];
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly queue: BeeQueue,
    private readonly client: RedisClient,
    private readonly options: BeeQueueJobQueueOptions,
  ) {}

  /** Connects, and rejects with UNAVAILABLE when Redis cannot be reached. */
  static async connect(options: BeeQueueJobQueueOptions): Promise<BeeQueueJobQueue> {
    for (const [name, value, least] of [
      ['retries', options.retries, 0],
      ['backoffMs', options.backoffMs, 1],
      ['stallIntervalMs', options.stallIntervalMs, 1],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < least) throw new RangeError(`${name} must be an integer of at least ${least}`);
    }
    const client = new RedisClient(options.redisUrl, { ...COMMAND_CONNECTION, commandTimeout: options.commandTimeoutMs, lazyConnect: true });
    // Errors reach onError through bee-queue, which listens on every connection it uses; this keeps ioredis quiet until then.
    client.on('error', () => {});
    let queue: BeeQueue | undefined;
    try {
      await client.connect();
      queue = new BeeQueue(options.queueName ?? DEFAULT_QUEUE_NAME, {
        redis: client,
        prefix: options.prefix,
        quitCommandClient: false,
        stallInterval: options.stallIntervalMs,
        // Bounds how late a delayed retry is raised when its notification was lost (to an outage, say).
        nearTermWindow: options.stallIntervalMs,
        activateDelayedJobs: true,
        removeOnSuccess: true,
        removeOnFailure: true,
        // Nothing here listens to per-job events, and a kept Job object per id would only grow.
        getEvents: false,
        sendEvents: false,
        storeJobs: false,
      });
      const jobQueue = new BeeQueueJobQueue(queue, client, options);
      // Before anything can fail: an 'error' event without a listener would crash the process.
      queue.on('error', (error: Error) => jobQueue.report(error));
      await queue.ready();
      const subscriber = client.duplicate();
      subscriber.on('error', (error: Error) => jobQueue.report(error));
      subscriber.on('message', (_channel: string, jobId: string) => jobQueue.abortRunning(jobId, 'cancelled'));
      await subscriber.subscribe(cancelChannel(options));
      client.on('ready', () => void jobQueue.reconnected());
      return jobQueue;
    } catch (error) {
      await queue?.close(1).catch(() => {});
      endConnections(client);
      throw translateRedisError(error);
    }
  }

  async enqueue(jobId: string): Promise<void> {
    // bee-queue would number a job without an id itself.
    if (jobId === '') throw new RangeError('a job id is required');
    // save() resolves with a null id, and writes nothing, when bee-queue already holds the id.
    await this.command(async () => {
      await this.queue.createJob({}).setId(jobId).retries(this.options.retries).backoff('exponential', this.options.backoffMs).save();
    });
  }

  /**
   * The saves are all issued in this tick, so the command connection's
   * auto-pipelining sends them to Redis in one write, as bee-queue's saveAll
   * would (which needs node_redis's batch(), absent from ioredis), while each
   * keeps its own outcome.
   */
  async enqueueAll(jobIds: readonly string[]): Promise<Array<Error | undefined>> {
    if (jobIds.includes('')) throw new RangeError('a job id is required');
    if (this.closing) throw unavailable('the job queue is closed');
    return Promise.all(jobIds.map((jobId) => this.enqueue(jobId).then(() => undefined, (error: unknown) => asError(error))));
  }

  holding(jobIds: readonly string[]): Promise<Set<string>> {
    const ids = [...new Set(jobIds)];
    return this.command(async () => {
      const jobs: Array<BeeQueue.Job<unknown> | null> = await Promise.all(ids.map((id) => this.queue.getJob(id)));
      return new Set(ids.filter((_, index) => jobs[index] !== null));
    });
  }

  cancel(jobId: string): Promise<void> {
    return this.command(async () => {
      // Takes the id out of every list, the active one included, so that no stall check brings it back.
      await this.queue.removeJob(jobId);
      this.abortRunning(jobId, 'cancelled');
      await this.client.publish(cancelChannel(this.options), jobId);
    });
  }

  process(concurrency: number, run: (delivery: QueueDelivery) => Promise<void>): void {
    this.queue.process(concurrency, async (job: BeeQueue.Job<unknown>) => {
      const controller = new AbortController();
      this.track(job.id, controller);
      try {
        // bee-queue counts retries down in the job's options as it schedules them.
        await run({ jobId: job.id, finalAttempt: !(job.options.retries > 0), signal: controller.signal });
      } catch (error) {
        // A cancelled job is over: rejecting would make bee-queue schedule a retry.
        const reason: unknown = controller.signal.reason;
        if (!(reason instanceof DeliveryAborted && reason.why === 'cancelled')) throw error;
      } finally {
        this.untrack(job.id, controller);
      }
    });
    // Moves jobs whose worker stopped renewing their lock back to waiting.
    this.queue.checkStalledJobs(this.options.stallIntervalMs).catch((error: unknown) => this.report(error));
  }

  /** A listener added while connected is also called once right away: the connection it missed is the current one. */
  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
    if (this.client.status === 'ready' && !this.closing) queueMicrotask(() => this.notify(listener));
  }

  /** bee-queue's checkHealth() reads node_redis-shaped MULTI replies, not ioredis's [error, reply] pairs, so the lists are counted here. */
  depth(): Promise<QueueDepth> {
    return this.command(async () => {
      const [waiting, active, delayed] = await Promise.all([
        this.client.llen(queueKey(this.options, 'waiting')),
        this.client.llen(queueKey(this.options, 'active')),
        this.client.zcard(queueKey(this.options, 'delayed')),
      ]);
      return { waiting, active, delayed };
    });
  }

  ping(): Promise<void> {
    return this.command(async () => {
      await this.client.ping();
    });
  }

  close(timeoutMs: number): Promise<void> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    try {
      // bee-queue reads a timeout below 1 ms as "the default, 5 s".
      await this.queue.close(Math.max(1, Math.ceil(timeoutMs)));
    } catch {
      // The timeout passed with deliveries still running. Their jobs stay active in Redis, so
      // another worker takes them over once their locks lapse; here they are told to stop.
      for (const jobId of [...this.running.keys()]) this.abortRunning(jobId, 'shutdown');
    }
    endConnections(this.client);
  }

  private async command<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closing) throw unavailable('the job queue is closed');
    try {
      return await operation();
    } catch (error) {
      if (!isNoScript(error)) throw translateRedisError(error);
    }
    // Redis came back empty and the reconnection has not loaded the scripts yet.
    try {
      await beeQueueScripts.buildCache(this.client);
      return await operation();
    } catch (error) {
      throw translateRedisError(error);
    }
  }

  private async reconnected(): Promise<void> {
    try {
      await beeQueueScripts.buildCache(this.client);
    } catch (error) {
      // The connection dropped again; its next 'ready' tries again.
      this.report(error);
      return;
    }
    if (this.closing) return;
    for (const listener of this.readyListeners) this.notify(listener);
  }

  private notify(listener: () => void): void {
    try {
      listener();
    } catch (error) {
      this.report(error);
    }
  }

  private abortRunning(jobId: string, why: DeliveryAborted['why']): void {
    for (const controller of this.running.get(jobId) ?? []) controller.abort(new DeliveryAborted(jobId, why));
  }

  private track(jobId: string, controller: AbortController): void {
    const controllers = this.running.get(jobId) ?? new Set();
    controllers.add(controller);
    this.running.set(jobId, controllers);
  }

  private untrack(jobId: string, controller: AbortController): void {
    const controllers = this.running.get(jobId);
    controllers?.delete(controller);
    if (controllers?.size === 0) this.running.delete(jobId);
  }

  /** Errors while closing are the expected ends of connections and of deliveries that outlived the timeout. */
  private report(error: unknown): void {
    if (!this.closing) this.options.onError?.(error);
  }
}

/** A key or channel of the queue, named as bee-queue names its own ("<prefix>:<queue name>:<name>"). */
function queueKey(options: BeeQueueJobQueueOptions, name: string): string {
  return `${options.prefix}:${options.queueName ?? DEFAULT_QUEUE_NAME}:${name}`;
}

/** The channel on which cancel() tells every process on the same prefix and queue to abort a job. */
function cancelChannel(options: BeeQueueJobQueueOptions): string {
  return queueKey(options, 'cancel');
}

function endConnections(client: RedisClient): void {
  for (const connection of [client, ...client.duplicates]) connection.disconnect();
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
