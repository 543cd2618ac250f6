import { isRedisUnreachable } from './redis-errors.js';

/** The lines the watch writes (a pino logger fits). */
export interface WatchLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/** What one Redis client of the process reports to the watch. */
export interface WatchedConnection {
  /** An error the client got over by itself, or will (its onError). */
  failed(error: unknown): void;
  /** The client is connected again (its onReady). */
  ready(): void;
}

/**
 * The state of the process's Redis connections (the job queue's, the event
 * log's), from the errors and reconnections their clients report. While
 * Redis is down each client reports a failure on every reconnection attempt
 * (every few hundred milliseconds, per connection); the watch logs one line
 * when the first connection is lost and one when the last is back, with how
 * long it took and how many failures it did not log. A failure that is not
 * about reaching Redis is logged as it comes.
 */
export class RedisConnectionWatch {
  private readonly down = new Set<string>();
  private readonly known = new Set<string>();
  private downSince = 0;
  private suppressed = 0;

  constructor(
    private readonly log: WatchLog,
    private readonly now: () => number = Date.now,
  ) {}

  /** The reporter of the connection of this name; it counts as up until it fails. */
  connection(name: string): WatchedConnection {
    this.known.add(name);
    return { failed: (error) => this.failed(name, error), ready: () => this.ready(name) };
  }

  /** Whether each connection is up now, by name. */
  state(): Record<string, boolean> {
    return Object.fromEntries([...this.known].map((name) => [name, !this.down.has(name)]));
  }

  private failed(name: string, error: unknown): void {
    if (!isRedisUnreachable(error)) {
      this.log.warn({ err: error, connection: name }, 'Redis client error; it recovers by itself');
      return;
    }
    const wasUp = this.down.size === 0;
    this.down.add(name);
    if (!wasUp) {
      this.suppressed += 1;
      return;
    }
    this.downSince = this.now();
    this.suppressed = 0;
    this.log.warn({ connection: name, reason: error.message }, 'Redis connection lost; retrying in the background, further failures are counted, not logged');
  }

  private ready(name: string): void {
    if (!this.down.delete(name) || this.down.size > 0) return;
    this.log.info({ connection: name, downMs: this.now() - this.downSince, suppressedErrors: this.suppressed }, 'Redis connection back');
  }
}
