import { compareCursors, parseCursor, type LoggedEvent, type ProvenanceEvent } from '../../domain/job-events.js';
import type { EventLog, EventLogBounds } from '../../domain/ports/event-log.js';
import { closedAdapter } from './closed.js';

/** How much of the log is kept: the newest maxCount events, or those younger than maxAgeMs. */
export type MemoryRetention = { maxCount: number } | { maxAgeMs: number };

interface Entry {
  cursor: string;
  appendedAtMs: number;
  event: ProvenanceEvent;
}

/** What tells two events of one job and seq apart: a record's event of one seq has one type and one time. */
function identity(event: ProvenanceEvent): string {
  return `${event.type} ${event.time.getTime()}`;
}

/**
 * The events and what each job had appended, shared by every log opened on
 * it (as the processes of a deployment share one Redis stream). Cursors are
 * "<n>-0", n counting appends from 1; times come from the clock, for
 * retention by age only.
 */
export class MemoryEventStream {
  readonly entries: Entry[] = [];
  appended = 0;
  trimmedThrough = '0-0';
  /** Per job: its last appended seq, and the identity of each seq appended since its memory last started. */
  readonly jobs = new Map<string, { lastSeq: number; seqs: Map<number, string> }>();
  /** Blocked reads to wake when events arrive. */
  readonly waiters = new Set<() => void>();

  constructor(readonly now: () => number = Date.now) {}
}

/**
 * EventLog in the process's memory, for unit tests of the use cases; it
 * passes the event log conformance suite. The only timer is that of a
 * blocked read, and it does not keep the process alive. Once closed, every
 * call fails UNAVAILABLE, as when Redis is gone.
 */
export class MemoryEventLog implements EventLog {
  private closed = false;
  /** Ends the blocked reads of this log: close() resolves them with no events. */
  private readonly endReads = new Set<() => void>();

  constructor(
    private readonly retention: MemoryRetention = { maxCount: 1_000_000 },
    private readonly stream = new MemoryEventStream(),
  ) {
    const limit = 'maxCount' in retention ? retention.maxCount : retention.maxAgeMs;
    if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError('retention must be either maxCount or maxAgeMs, a positive integer');
  }

  /** Skips what the job had appended before, as the port says, then trims to the retention. */
  async append(events: readonly ProvenanceEvent[]): Promise<void> {
    this.open();
    for (const event of events) {
      if (!Number.isSafeInteger(event.seq) || event.seq <= 0) throw new RangeError(`event seq must be a positive integer; job ${event.jobId} has ${event.seq}`);
    }
    const { stream } = this;
    let added = false;
    for (const event of events) {
      let job = stream.jobs.get(event.jobId);
      if (!job) stream.jobs.set(event.jobId, (job = { lastSeq: 0, seqs: new Map() }));
      const known = job.seqs.get(event.seq);
      // Another record's event under the same job id (a new database, a restored backup): its memory starts again from it.
      const append = known === undefined ? event.seq > job.lastSeq : known !== identity(event);
      if (!append) continue;
      if (known !== undefined) job.seqs.clear();
      job.seqs.set(event.seq, identity(event));
      job.lastSeq = event.seq;
      stream.entries.push({ cursor: `${++stream.appended}-0`, appendedAtMs: stream.now(), event: structuredClone(event) });
      added = true;
    }
    if (!added) return;
    this.trim();
    for (const wake of [...stream.waiters]) wake();
  }

  async read(after: string | undefined, limit: number): Promise<LoggedEvent[]> {
    this.open();
    return this.eventsAfter(after, limit);
  }

  async readBlocking(after: string, limit: number, waitMs: number): Promise<LoggedEvent[]> {
    this.open();
    if (!(Number.isFinite(waitMs) && waitMs > 0)) throw new RangeError('waitMs must be a positive number');
    const ready = this.eventsAfter(after, limit);
    if (ready.length > 0) return ready;
    return new Promise<LoggedEvent[]>((resolve) => {
      const finish = (events: LoggedEvent[]) => {
        clearTimeout(timer);
        this.stream.waiters.delete(wake);
        this.endReads.delete(end);
        resolve(events);
      };
      const wake = () => {
        const events = this.eventsAfter(after, limit);
        if (events.length > 0) finish(events);
      };
      const end = () => finish([]);
      const timer = setTimeout(end, waitMs);
      // A test that forgets a reader must not hang the process on it.
      timer.unref();
      this.stream.waiters.add(wake);
      this.endReads.add(end);
    });
  }

  async bounds(): Promise<EventLogBounds> {
    this.open();
    const { entries, appended, trimmedThrough } = this.stream;
    const newest = appended === 0 ? '0-0' : `${appended}-0`;
    return entries.length === 0 ? { newest, trimmedThrough } : { oldest: entries[0]!.cursor, newest, trimmedThrough };
  }

  /** Always connected: a listener is called once, right after it is added. */
  onReady(listener: () => void): void {
    queueMicrotask(() => {
      if (!this.closed) listener();
    });
  }

  async ping(): Promise<void> {
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const end of [...this.endReads]) end();
  }

  private open(): void {
    if (this.closed) throw closedAdapter('event log', 'EVENT_LOG_UNAVAILABLE');
  }

  private eventsAfter(after: string | undefined, limit: number): LoggedEvent[] {
    if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError('limit must be a positive integer');
    if (after !== undefined && parseCursor(after) === undefined) throw new RangeError(`not a cursor: ${after}`);
    const entries = this.stream.entries;
    const start = after === undefined ? 0 : entries.findIndex((entry) => compareCursors(entry.cursor, after) > 0);
    if (start < 0) return [];
    return entries.slice(start, start + limit).map(({ cursor, event }) => ({ ...structuredClone(event), cursor }));
  }

  private trim(): void {
    const { stream, retention } = this;
    const { entries } = stream;
    const cutoff = 'maxAgeMs' in retention ? stream.now() - retention.maxAgeMs : undefined;
    let removed = 0;
    if (cutoff === undefined) removed = Math.max(0, entries.length - (retention as { maxCount: number }).maxCount);
    else while (removed < entries.length && entries[removed]!.appendedAtMs < cutoff) removed++;
    if (removed === 0) return;
    stream.trimmedThrough = entries[removed - 1]!.cursor;
    entries.splice(0, removed);
  }
}
