import type { LoggedEvent, ProvenanceEvent } from '../job-events.js';

/**
 * The durable, ordered log of provenance events that subscribers read.
 * Adapter: events/redis-stream-event-log (one Redis Stream, bounded
 * retention); test/conformance/event-log.ts is the suite every adapter must
 * pass.
 *
 * Adapters translate "the log cannot be reached right now" into
 * ProvenanceError UNAVAILABLE.
 */
export interface EventLog {
  /**
   * Appends the events in order. An event whose seq is not above the last
   * one appended for its job was appended before and is skipped, so that
   * appending the same events twice, or an older event after a newer one of
   * the same job, adds nothing (within the adapter's memory of what each job
   * had appended: a day for Redis). An event that differs from the one
   * appended with its seq (its type or time) is another record's under the
   * same job id, after a new database or a restored backup: it is appended,
   * and the job's memory starts again from it.
   */
  append(events: readonly ProvenanceEvent[]): Promise<void>;

  /** At most limit events after the cursor (exclusive), oldest first; from the oldest retained event when after is undefined. */
  read(after: string | undefined, limit: number): Promise<LoggedEvent[]>;

  /**
   * Like read after a cursor, but waits up to waitMs for the first event when
   * there is none yet. Meant for one long-lived reader per process. A read
   * interrupted by close() resolves with no events.
   */
  readBlocking(after: string, limit: number, waitMs: number): Promise<LoggedEvent[]>;

  /** Where the log stands now. */
  bounds(): Promise<EventLogBounds>;

  /** Called each time the log can be both read and blocked on again after (re)connecting. */
  onReady(listener: () => void): void;

  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface EventLogBounds {
  /** Cursor of the oldest event still kept; undefined when the log is empty. */
  oldest?: string;
  /** Cursor of the newest event ever appended ('0-0' when none). */
  newest: string;
  /**
   * Cursor of the newest event that retention removed ('0-0' when none):
   * resuming after an older cursor would miss events. A log that lost its
   * data (Redis restarted without persistence) cannot tell.
   */
  trimmedThrough: string;
}
