import { createHash } from 'node:crypto';
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { unavailable } from '../../domain/errors.js';
import { eventJson, MAX_CURSOR_PART, parseCursor, type LoggedEvent, type ProvenanceEvent } from '../../domain/job-events.js';
import type { EventLog, EventLogBounds } from '../../domain/ports/event-log.js';
import { translateRedisError } from '../shared/redis-errors.js';

/** How much of the log Redis keeps: the newest maxCount events, or those younger than maxAgeMs. Both are kept approximately (see append). */
export type EventLogRetention = { maxCount: number } | { maxAgeMs: number };

export interface RedisStreamEventLogOptions {
  redisUrl: string;
  /**
   * The stream's key. What was appended for each job is kept at
   * "<key>:seq:<jobId>" and "<key>:appended:<jobId>"; under Redis Cluster,
   * give the key a hash tag ("{prov}:events") so that the stream and those
   * keys share a slot.
   */
  key: string;
  retention: EventLogRetention;
  /** Errors the log gets over by itself (a lost connection): for the log of the process. */
  onError?: (error: unknown) => void;
  /** How long a command other than the blocking read waits for its reply before it fails; none when absent. */
  commandTimeoutMs?: number;
}

/** AIP-193 reason of the UNAVAILABLE errors this adapter raises. */
export const EVENT_LOG_UNAVAILABLE = 'EVENT_LOG_UNAVAILABLE';

/**
 * How long Redis remembers what was appended for a job after the job's last
 * append. Events come again when an outbox is relayed twice (a crash between
 * the append and the clearing of the outbox, a sweep racing the write's own
 * relay, two processes): within seconds or minutes of the first append, or
 * after an outage of the store as long as this. A day covers that and costs
 * a few small keys (a few hundred bytes) per job that had events in the last
 * day; retention does not come into it, because a duplicate of an event that
 * left the log would still reach subscribers.
 */
const SEQ_MEMORY_SECONDS = 24 * 60 * 60;

/** Events per script call: a larger batch is sent as several calls in one pipeline, so that Redis serves other clients between them. */
const EVENTS_PER_SCRIPT_CALL = 1000;

/** The fields of a stream entry: the event as JSON, and the id of the entry appended before it ('0-0' for the first). */
const EVENT_FIELD = 'event';
/**
 * Trimming does not move Redis's max-deleted-entry-id (only XDEL does), and
 * the id of the last entry trimmed is gone with it; the oldest entry kept
 * names it instead.
 */
const PREVIOUS_FIELD = 'prev';

/** The highest stream id: nothing can come after it, and Redis refuses "(" before it. */
const MAX_CURSOR = `${MAX_CURSOR_PART}-${MAX_CURSOR_PART}`;

/**
 * Appends a batch, and trims the stream on every XADD. Per job, Redis keeps
 * the last appended seq ("<key>:seq:<jobId>") and what each appended seq was
 * (a hash "<key>:appended:<jobId>", seq -> the event's type and time). An
 * event is skipped when the same event was appended with its seq (a
 * duplicate), or when its seq is not above the job's last and nothing is
 * known of it (an older event after a newer one, or one appended before that
 * hash was kept). An event that differs from the one appended with its seq
 * belongs to another record under the same job id (a new database on the
 * same Redis, a restored backup): what was kept for the job is forgotten,
 * and the event appended; without that, every event of the new record up to
 * the old one's last seq would be dropped, silently, for a day.
 * The threshold of an age is taken from Redis's clock, which is also the one
 * that makes the ids. Approximate trimming (~) removes only whole nodes of
 * the stream (at most 100 entries or 4 KB each by default), which costs far
 * less than exact trimming; it keeps a little more than the retention asks.
 * KEYS[1]: the stream; then per job of the batch its seq key and its hash.
 * ARGV: seconds to keep them, MAXLEN or MINID, a count or an age in ms, then
 * per event: the index in KEYS of its job's seq key (the hash is next), its
 * seq, what it is (type and time), its JSON.
 */
const APPEND_SCRIPT = `
local strategy = ARGV[2]
local threshold = ARGV[3]
if strategy == 'MINID' then
  local now = redis.call('TIME')
  threshold = string.format('%.0f', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3]))
end
local lastSeq = {}
local previous
for i = 4, #ARGV, 4 do
  local job = tonumber(ARGV[i])
  local seq = tonumber(ARGV[i + 1])
  local identity = ARGV[i + 2]
  if lastSeq[job] == nil then
    lastSeq[job] = tonumber(redis.call('GET', KEYS[job]) or '0')
  end
  local known = redis.call('HGET', KEYS[job + 1], ARGV[i + 1])
  local append = seq > lastSeq[job]
  if known then
    append = known ~= identity
    if append then redis.call('DEL', KEYS[job + 1]) end
  end
  if append then
    if previous == nil then
      local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
      previous = last and last[1] or '0-0'
    end
    previous = redis.call('XADD', KEYS[1], strategy, '~', threshold, '*', '${EVENT_FIELD}', ARGV[i + 3], '${PREVIOUS_FIELD}', previous)
    redis.call('HSET', KEYS[job + 1], ARGV[i + 1], identity)
    lastSeq[job] = seq
  end
end
for job, seq in pairs(lastSeq) do
  redis.call('SET', KEYS[job], string.format('%.0f', seq), 'EX', ARGV[1])
  redis.call('EXPIRE', KEYS[job + 1], ARGV[1])
end
`;
const APPEND_SCRIPT_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');

const MAX_RECONNECT_DELAY_MS = 1000;

/**
 * Both connections fail fast while Redis is unreachable (no offline queue)
 * and reconnect in the background; the command connection's commands also
 * fail after commandTimeoutMs when Redis holds the connection without
 * answering. A command under way when the connection drops gets one
 * reconnection attempt (an append sent again is skipped by its seqs); the
 * blocking read gets none, since its caller reads again after the same
 * cursor anyway.
 */
const COMMAND_CONNECTION: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  lazyConnect: true,
};
const BLOCKING_CONNECTION: RedisOptions = { ...COMMAND_CONNECTION, maxRetriesPerRequest: 0 };

type StreamEntry = [id: string, fields: string[]];

/**
 * The EventLog port on one Redis Stream. The cursor of an event is its
 * stream entry id; the entry holds the event as JSON (time as an ISO string).
 * Blocking reads have a connection of their own, since a blocked connection
 * serves nothing else.
 */
export class RedisStreamEventLog implements EventLog {
  private readonly readyListeners: Array<() => void> = [];
  private readonly trim: [strategy: 'MAXLEN' | 'MINID', threshold: number];
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly client: Redis,
    private readonly blocking: Redis,
    private readonly options: RedisStreamEventLogOptions,
  ) {
    const { retention } = options;
    this.trim = 'maxCount' in retention ? ['MAXLEN', retention.maxCount] : ['MINID', retention.maxAgeMs];
  }

  /** Connects, and rejects with UNAVAILABLE when Redis cannot be reached. */
  static async connect(options: RedisStreamEventLogOptions): Promise<RedisStreamEventLog> {
    if (options.key === '') throw new RangeError('a stream key is required');
    const retention = options.retention as Partial<{ maxCount: number; maxAgeMs: number }>;
    const limits = Object.entries(retention);
    if (limits.length !== 1 || !['maxCount', 'maxAgeMs'].includes(limits[0]![0]) || !isPositiveInteger(limits[0]![1])) {
      throw new RangeError('retention must be either maxCount or maxAgeMs, a positive integer');
    }
    const commands = new Redis(options.redisUrl, { ...COMMAND_CONNECTION, ...(options.commandTimeoutMs === undefined ? {} : { commandTimeout: options.commandTimeoutMs }) });
    const log = new RedisStreamEventLog(commands, new Redis(options.redisUrl, BLOCKING_CONNECTION), options);
    // Before connecting: an 'error' event without a listener would crash the process.
    log.client.on('error', (error: Error) => log.report(error));
    log.blocking.on('error', (error: Error) => log.report(error));
    try {
      await Promise.all([log.client.connect(), log.blocking.connect()]);
    } catch (error) {
      await log.close();
      throw translateEventLogError(error);
    }
    for (const connection of [log.client, log.blocking]) connection.on('ready', () => log.reconnected());
    return log;
  }

  /** Events are sent with one round trip per call: one script call per EVENTS_PER_SCRIPT_CALL events, in one pipeline. */
  async append(events: readonly ProvenanceEvent[]): Promise<void> {
    for (const event of events) {
      if (!isPositiveInteger(event.seq)) throw new RangeError(`event seq must be a positive integer; job ${event.jobId} has ${event.seq}`);
    }
    const calls: Array<Array<string | number>> = [];
    for (let start = 0; start < events.length; start += EVENTS_PER_SCRIPT_CALL) {
      calls.push(this.appendArguments(events.slice(start, start + EVENTS_PER_SCRIPT_CALL)));
    }
    await this.command(async () => {
      if (calls.length === 0) return;
      if (await this.runAppendScript(calls)) return;
      // Redis restarted (or its scripts were flushed) since the script was last loaded.
      await this.client.script('LOAD', APPEND_SCRIPT);
      if (!(await this.runAppendScript(calls))) throw new Error('the append script is still missing after loading it');
    });
  }

  async read(after: string | undefined, limit: number): Promise<LoggedEvent[]> {
    checkLimit(limit);
    if (after !== undefined) checkCursor(after);
    return this.command(async () => {
      if (after === MAX_CURSOR) return [];
      const entries = (await this.client.xrange(this.options.key, after === undefined ? '-' : `(${after}`, '+', 'COUNT', limit)) as StreamEntry[];
      return entries.map(loggedEvent);
    });
  }

  /** A read that close() interrupts resolves with no events. */
  async readBlocking(after: string, limit: number, waitMs: number): Promise<LoggedEvent[]> {
    checkLimit(limit);
    checkCursor(after);
    // BLOCK 0 would wait forever.
    if (!(Number.isFinite(waitMs) && waitMs > 0)) throw new RangeError('waitMs must be a positive number');
    if (this.closing) throw closedError();
    try {
      const streams = await this.blocking.xread('COUNT', limit, 'BLOCK', Math.ceil(waitMs), 'STREAMS', this.options.key, after);
      return streams ? (streams[0]![1] as StreamEntry[]).map(loggedEvent) : [];
    } catch (error) {
      if (this.closing) return [];
      throw translateEventLogError(error);
    }
  }

  bounds(): Promise<EventLogBounds> {
    return this.command(async () => {
      let info: unknown[];
      try {
        info = (await this.client.xinfo('STREAM', this.options.key)) as unknown[];
      } catch (error) {
        if (isReply(error, /^ERR no such key/)) return { newest: '0-0', trimmedThrough: '0-0' };
        throw error;
      }
      const fields = new Map<unknown, unknown>();
      for (let i = 0; i + 1 < info.length; i += 2) fields.set(info[i], info[i + 1]);
      const newest = String(fields.get('last-generated-id'));
      const firstEntry = fields.get('first-entry') as StreamEntry | null;
      // A stream that exists without entries has lost every entry it was given.
      if (!firstEntry) return { newest, trimmedThrough: newest };
      return { oldest: firstEntry[0], newest, trimmedThrough: fieldOf(firstEntry, PREVIOUS_FIELD) };
    });
  }

  /**
   * Listeners are called once both connections are ready again, so that a
   * reader they restart can block at once. A listener added while connected
   * is also called once right away: the connection it missed is the current one.
   */
  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
    if (this.connected()) queueMicrotask(() => this.notify(listener));
  }

  ping(): Promise<void> {
    return this.command(async () => {
      await this.client.ping();
    });
  }

  close(): Promise<void> {
    this.closing ??= Promise.all([endConnection(this.client), endConnection(this.blocking)]).then(() => {});
    return this.closing;
  }

  /** KEYS and ARGV of one script call, after the numkeys argument. */
  private appendArguments(events: readonly ProvenanceEvent[]): Array<string | number> {
    const jobKeys = new Map<string, number>();
    const eventArguments: Array<string | number> = [];
    for (const event of events) {
      let keyIndex = jobKeys.get(event.jobId);
      if (keyIndex === undefined) {
        // Lua indexes KEYS from 1, and KEYS[1] is the stream; each job has two keys.
        keyIndex = jobKeys.size * 2 + 2;
        jobKeys.set(event.jobId, keyIndex);
      }
      // What tells two events with one seq apart: a record's events of one seq have one type and one time.
      eventArguments.push(keyIndex, event.seq, `${event.type} ${new Date(event.time).getTime()}`, eventJson(event));
    }
    const jobIds = [...jobKeys.keys()];
    const keys = [this.options.key, ...jobIds.flatMap((jobId) => [`${this.options.key}:seq:${jobId}`, `${this.options.key}:appended:${jobId}`])];
    return [keys.length, ...keys, SEQ_MEMORY_SECONDS, ...this.trim, ...eventArguments];
  }

  /** Runs the script calls in one pipeline; resolves false when Redis does not have the script. */
  private async runAppendScript(calls: ReadonlyArray<Array<string | number>>): Promise<boolean> {
    const results = await this.client.pipeline(calls.map((call) => ['evalsha', APPEND_SCRIPT_SHA, ...call])).exec();
    let missing = false;
    for (const [error] of results ?? []) {
      if (error && !isReply(error, /^NOSCRIPT/)) throw error;
      missing ||= error !== null;
    }
    return !missing;
  }

  private async command<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closing) throw closedError();
    try {
      return await operation();
    } catch (error) {
      throw translateEventLogError(error);
    }
  }

  /** Each connection calls this when it is ready: the later of the two finds both ready. */
  private reconnected(): void {
    if (!this.connected()) return;
    for (const listener of this.readyListeners) this.notify(listener);
  }

  private connected(): boolean {
    return this.client.status === 'ready' && this.blocking.status === 'ready' && !this.closing;
  }

  private notify(listener: () => void): void {
    try {
      listener();
    } catch (error) {
      this.report(error);
    }
  }

  /** Errors while closing are the expected ends of the connections. */
  private report(error: unknown): void {
    if (!this.closing) this.options.onError?.(error);
  }
}

/** The Redis failures that mean "cannot be reached right now" as UNAVAILABLE with this adapter's reason; any other error unchanged. */
function translateEventLogError(error: unknown): unknown {
  if (translateRedisError(error) === error) return error;
  const translated = unavailable('the event log (Redis) is unavailable; retry later', 1000, EVENT_LOG_UNAVAILABLE);
  translated.cause = error;
  return translated;
}

function closedError() {
  return unavailable('the event log is closed', 1000, EVENT_LOG_UNAVAILABLE);
}

function loggedEvent(entry: StreamEntry): LoggedEvent {
  const event = JSON.parse(fieldOf(entry, EVENT_FIELD)) as Omit<ProvenanceEvent, 'time'> & { time: string };
  return { ...event, time: new Date(event.time), cursor: entry[0] };
}

function fieldOf([id, fields]: StreamEntry, name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]!;
  throw new Error(`stream entry ${id} has no field ${name}: it was not written by this adapter`);
}

/** Disconnects, and resolves once the socket is closed. A connection waiting to reconnect has no socket, and disconnect() only cancels its timer. */
function endConnection(connection: Redis): Promise<void> {
  const ended =
    connection.status === 'end' || connection.status === 'reconnecting'
      ? Promise.resolve()
      : new Promise<void>((resolve) => connection.once('end', () => resolve()));
  connection.disconnect();
  return ended;
}

function isReply(error: unknown, message: RegExp): boolean {
  return error instanceof Error && error instanceof ReplyError && message.test(error.message);
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function checkLimit(limit: number): void {
  // COUNT 0 means "no limit" to XREAD.
  if (!isPositiveInteger(limit)) throw new RangeError('limit must be a positive integer');
}

function checkCursor(cursor: string): void {
  if (!parseCursor(cursor)) throw new RangeError(`not a stream cursor: ${JSON.stringify(cursor)}`);
}
