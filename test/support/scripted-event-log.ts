import { compareCursors, type LoggedEvent, type ProvenanceEvent } from '../../src/domain/job-events.js';
import type { EventLog, EventLogBounds } from '../../src/domain/ports/event-log.js';

/**
 * Holds calls until the test lets them go: while held, each call waits in
 * line; releaseNext() lets the oldest one go, open() all of them and every
 * later one.
 */
export class Gate {
  private held = false;
  private readonly line: Array<() => void> = [];

  hold(): void {
    this.held = true;
  }

  get waiting(): number {
    return this.line.length;
  }

  releaseNext(): void {
    this.line.shift()?.();
  }

  open(): void {
    this.held = false;
    for (const go of this.line.splice(0)) go();
  }

  /** @internal */
  pass(): Promise<void> {
    return this.held ? new Promise((resolve) => this.line.push(resolve)) : Promise.resolve();
  }
}

/**
 * An EventLog in memory whose calls a test can hold, to play out an
 * interleaving of the hub's reader and its subscribers that a real log
 * leaves to chance. bounds() is held before it looks at the log (the
 * request has not reached the log yet); read() and readBlocking() after
 * (the log answered, the answer is on its way). Cursors are "<n>-0", n = 1, 2, ...
 */
export class ScriptedEventLog implements EventLog {
  readonly boundsGate = new Gate();
  readonly readGate = new Gate();
  readonly blockingReadGate = new Gate();
  /** How many calls of each kind were made. */
  readonly calls = { bounds: 0, read: 0, readBlocking: 0 };
  /** The cursor of the last event a blocking read handed over. */
  lastBlockingAnswer: string | undefined;
  /** Cursors of every event the blocking reads answered with, in order. */
  readonly blockingAnswers: string[] = [];
  /** Blocking reads called and not yet answered. */
  blockingReadsUnderWay = 0;
  private readonly events: LoggedEvent[] = [];
  private readonly appendListeners = new Set<() => void>();
  private closed = false;

  async append(events: readonly ProvenanceEvent[]): Promise<void> {
    for (const event of events) this.events.push({ ...event, cursor: `${this.events.length + 1}-0` });
    for (const listener of [...this.appendListeners]) listener();
  }

  async read(after: string | undefined, limit: number): Promise<LoggedEvent[]> {
    this.calls.read++;
    const answer = this.after(after).slice(0, limit);
    await this.readGate.pass();
    return answer;
  }

  async readBlocking(after: string, limit: number, waitMs: number): Promise<LoggedEvent[]> {
    this.calls.readBlocking++;
    this.blockingReadsUnderWay++;
    try {
      return await this.answerBlocking(after, limit, waitMs);
    } finally {
      this.blockingReadsUnderWay--;
    }
  }

  private async answerBlocking(after: string, limit: number, waitMs: number): Promise<LoggedEvent[]> {
    if (this.after(after).length === 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.appendListeners.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        this.appendListeners.add(done);
      });
    }
    const answer = this.closed ? [] : this.after(after).slice(0, limit);
    await this.blockingReadGate.pass();
    if (answer.length > 0) this.lastBlockingAnswer = answer.at(-1)!.cursor;
    this.blockingAnswers.push(...answer.map((event) => event.cursor));
    return answer;
  }

  async bounds(): Promise<EventLogBounds> {
    this.calls.bounds++;
    await this.boundsGate.pass();
    const newest = this.events.at(-1)?.cursor ?? '0-0';
    return { ...(this.events[0] ? { oldest: this.events[0].cursor } : {}), newest, trimmedThrough: '0-0' };
  }

  onReady(): void {}

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    for (const listener of [...this.appendListeners]) listener();
  }

  private after(cursor: string | undefined): LoggedEvent[] {
    return cursor === undefined ? [...this.events] : this.events.filter((event) => compareCursors(event.cursor, cursor) > 0);
  }
}
