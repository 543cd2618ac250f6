import { canRead } from '../../domain/access.js';
import { ProvenanceError, unavailable } from '../../domain/errors.js';
import { compareCursors, type EventType, type LoggedEvent } from '../../domain/job-events.js';
import type { EventView } from '../../domain/job-view.js';
import type { EventLog } from '../../domain/ports/event-log.js';
import type { Metrics } from '../../domain/ports/metrics.js';
import type { ServiceLog } from '../provenance-service.js';

export interface HubOptions {
  /** Events one subscriber may have waiting before it is ended as too slow. */
  bufferLimit: number;
  /** Events read from the log per round trip. */
  readBatch: number;
  /** How long the shared reader blocks on the log per round trip. */
  blockMs: number;
  /** Subscriptions one principal (tenant and subject) may hold open in this process at once. */
  maxPerPrincipal: number;
}

/** Which events a subscriber wants, and how it is shown them. All given conditions hold; absent ones match everything. */
export interface EventFilter {
  /** Only events of jobs this reader may read: its tenant's, and those naming its subject among their readers. */
  reader: { tenant: string; subject: string };
  jobIds?: ReadonlySet<string>;
  /** A job and its descendants; grows as jobs downstream of them are created. */
  lineage?: Set<string>;
  /** The most jobs lineage may hold: past it the subscription ends (watchedLineageTooLarge), so that one cannot grow without bound. */
  lineageLimit?: number;
  types?: ReadonlySet<EventType>;
  labels?: Readonly<Record<string, string>>;
  /** The events that passed, as the reader may see them (job-view.ts): the other jobs they name that it may not read, under placeholders. */
  view(events: readonly LoggedEvent[]): Promise<EventView[]>;
}

export type StartAt = { kind: 'now' } | { kind: 'oldest' } | { kind: 'after'; cursor: string };

const RETRY_DELAY_MS = 500;

/** A principal's claim on one of its subscriptions; released once, by whichever comes first. */
export interface SubscriptionSlot {
  release(): void;
}

/**
 * The per-process fan-out of the event log: ONE reader blocks on the log and
 * hands every event to every subscriber of this process. A subscriber first
 * catches up from where it asked to start (paged reads, at its own pace;
 * "now" is the log's newest event when it registers), then takes the live
 * events queued for it meanwhile, skipping those it already had; so it sees
 * each event once and in order. A subscriber whose queue passes the limit
 * (its client reads too slowly) is ended with RESOURCE_EXHAUSTED; the
 * transport adds the last cursor the client was sent, from which it can
 * resume.
 *
 * The reader must never pass an event that a registered subscription has
 * not read itself: it takes its starting position from the log, and no
 * subscription registers before that position is known.
 *
 * While no subscription is open or being opened, the reader reads nothing
 * (reading and parsing every event cost a busy writer CPU for no one; see
 * docs/decisions.md): it forgets its position and waits. The next open()
 * wakes it, and the position is taken from the log again first, as at
 * start-up; a subscription that starts from an older cursor catches up from
 * the log, as it would at start-up.
 */
export class EventHub {
  private readonly subscribers = new Set<Subscription>();
  /** Open subscriptions (and subscriptions being opened) per principal. */
  private readonly slotsHeld = new Map<string, number>();
  /** Cursor of the last event handed to subscribers; undefined until the reader has reached the log. */
  private position: string | undefined;
  /** Settles once position is known; shared by the reader and open(), forgotten when it fails. */
  private positioning: Promise<void> | undefined;
  private stopped = false;
  private reader: Promise<void> | undefined;
  /** Ends the reader's wait before retrying a failed read. */
  private wakeReader: (() => void) | undefined;
  /** Ends the reader's wait while nobody is subscribed. */
  private wakeIdleReader: (() => void) | undefined;
  /** open() calls under way: the reader keeps (or takes) its position for them. */
  private opening = 0;

  private readonly options: HubOptions;

  constructor(
    private readonly log: EventLog,
    options: HubOptions,
    private readonly logger: ServiceLog,
    private readonly metrics: Metrics,
  ) {
    // One read is handed to every subscriber at once: no read may be larger than what a subscriber may hold.
    this.options = { ...options, readBatch: Math.min(options.readBatch, options.bufferLimit) };
  }

  /** Starts the shared reader; it keeps retrying while the log is unreachable. */
  start(): void {
    this.reader ??= this.read();
  }

  /**
   * Claims one of the principal's subscriptions, before any other work is
   * done for it; RESOURCE_EXHAUSTED when the principal holds the most it
   * may. Pass the slot to open(); the subscription's end releases it, and so
   * does release() when the subscription is never opened.
   */
  reserve(principal: { tenant: string; subject: string }): SubscriptionSlot {
    const key = `${principal.tenant}\u0000${principal.subject}`;
    const held = this.slotsHeld.get(key) ?? 0;
    const limit = this.options.maxPerPrincipal;
    if (held >= limit) {
      throw new ProvenanceError(
        'RESOURCE_EXHAUSTED',
        `${principal.subject} (tenant ${principal.tenant}) already holds ${held} open WatchEvents subscriptions on this server, the most one principal may (PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL=${limit}); end one before opening another`,
        'TOO_MANY_SUBSCRIPTIONS',
        { metadata: { maxSubscriptions: String(limit) } },
      );
    }
    this.slotsHeld.set(key, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = this.slotsHeld.get(key)! - 1;
        if (left === 0) this.slotsHeld.delete(key);
        else this.slotsHeld.set(key, left);
      },
    };
  }

  /**
   * Ends every subscription with UNAVAILABLE, which clients resume from on
   * another server, and refuses new ones the same way; the reader stops once
   * the log is closed (which interrupts its blocking read).
   */
  stop(): void {
    this.stopped = true;
    this.wakeReader?.();
    this.wakeIdleReader?.();
    for (const subscription of this.subscribers) subscription.fail(shuttingDown());
  }

  /** How many subscriptions are open in this process. */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * Opens a subscription, holding the slot reserve() gave until it ends.
   * For a lineage filter, call it with the filter's set still to be filled:
   * fill it (from the store) after open() returns, before the first event is
   * taken, so that no job created meanwhile is missed — open() already
   * queues live events for the subscription.
   */
  async open(filter: EventFilter, start: StartAt, slot: SubscriptionSlot): Promise<Subscription> {
    if (this.stopped) throw shuttingDown();
    this.opening++;
    try {
      this.wakeIdleReader?.();
      await this.positioned();
      return await this.register(filter, start, slot);
    } finally {
      this.opening--;
    }
  }

  /** Takes the subscription's start from the log and adds it to the subscribers, which the reader hands live events to from then on. */
  private async register(filter: EventFilter, start: StartAt, slot: SubscriptionSlot): Promise<Subscription> {
    // Undefined: from the oldest event kept.
    let after: string | undefined;
    if (start.kind !== 'oldest') {
      const bounds = await this.log.bounds();
      if (start.kind === 'now') after = bounds.newest;
      else if (compareCursors(start.cursor, bounds.trimmedThrough) < 0) {
        throw new ProvenanceError(
          'OUT_OF_RANGE',
          `cursor ${start.cursor} is older than the events still kept; the oldest kept is ${bounds.oldest ?? 'none (the stream is empty)'}: resume from start_position OLDEST`,
          'CURSOR_EXPIRED',
          { metadata: { oldestCursor: bounds.oldest ?? '' } },
        );
      } else if (compareCursors(start.cursor, bounds.newest) > 0) {
        // Events appended from now on get cursors above the newest, and those up to this one would be passed over in silence.
        // No event carried it: a made-up cursor, or one of a stream since lost (Redis restarted without persistence).
        throw new ProvenanceError(
          'OUT_OF_RANGE',
          `cursor ${start.cursor} is after the newest event of the stream, ${bounds.newest}: resume after a cursor an event carried, or from start_position OLDEST`,
          'CURSOR_AFTER_NEWEST',
          { metadata: { newestCursor: bounds.newest } },
        );
      } else after = start.cursor;
    }
    // stop() may have come while the log answered: it failed only the subscriptions it found.
    if (this.stopped) throw shuttingDown();
    const subscription = new Subscription(this, this.log, filter, after, this.options, this.metrics, slot);
    this.subscribers.add(subscription);
    return subscription;
  }

  /** @internal */
  remove(subscription: Subscription): void {
    this.subscribers.delete(subscription);
  }

  /**
   * Where the reader starts: the log's newest event, asked for once per
   * stretch of open subscriptions, by the reader or by the first open() if
   * that comes first (just after start-up, or after an idle stretch).
   * A subscription that registered at a later position could otherwise lose
   * the events between the two.
   */
  private positioned(): Promise<void> {
    this.positioning ??= this.log.bounds().then(
      (bounds) => {
        this.position ??= bounds.newest;
      },
      (error: unknown) => {
        this.positioning = undefined;
        throw error;
      },
    );
    return this.positioning;
  }

  /** Forgets the position (the next subscriber takes a new one) and waits for an open() or stop(). */
  private async idle(): Promise<void> {
    this.position = undefined;
    this.positioning = undefined;
    await new Promise<void>((resolve) => (this.wakeIdleReader = resolve));
    this.wakeIdleReader = undefined;
  }

  private async read(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.subscribers.size === 0 && this.opening === 0) {
          await this.idle();
          continue;
        }
        await this.positioned();
        const events = await this.log.readBlocking(this.position!, this.options.readBatch, this.options.blockMs);
        if (events.length === 0) continue;
        for (const subscription of this.subscribers) subscription.offer(events);
        this.position = events[events.length - 1]!.cursor;
      } catch (error) {
        if (this.stopped) return;
        if (!(error instanceof ProvenanceError) || error.code !== 'UNAVAILABLE') this.logger.error({ err: error }, 'event reader failed');
        // Subscribers end with a status they can resume from; the reader tries again.
        for (const subscription of this.subscribers) subscription.fail(error instanceof ProvenanceError ? error : unavailable('the event stream failed', 1000, 'EVENTS_UNAVAILABLE'));
        await new Promise<void>((resolve) => {
          this.wakeReader = resolve;
          setTimeout(resolve, RETRY_DELAY_MS).unref();
        });
      }
    }
  }
}

/** One subscriber's view of the log: iterate batches(); close() when the client goes away. */
export class Subscription {
  /** Live events not yet taken, in log order. */
  private queue: LoggedEvent[] = [];
  /** True until the catch-up has read the log to its end; until then, live events are only a head start. */
  private catchingUp = true;
  /** Set when live events are dropped during the catch-up: the read under way may have missed them, so one more is needed. */
  private droppedWhileReading = false;
  /**
   * Whether the next live event may be one the catch-up already read. It can
   * only be at the head of the queue: the hub hands events over in log
   * order, so once one is newer than the last seen, all after it are.
   */
  private mayOverlap = true;
  private wake: (() => void) | undefined;
  private closed = false;
  private failure: ProvenanceError | undefined;
  /** Cursor the subscription started after (undefined: from the oldest event): where a client that got nothing can resume. */
  readonly startCursor: string | undefined;
  /** Cursor of the last event looked at (delivered or filtered out). */
  private lastSeen: string | undefined;
  private resolveEnded!: (failure: ProvenanceError | undefined) => void;
  /** Settles when the subscription ends: with the error it failed with, or undefined when closed. */
  readonly ended = new Promise<ProvenanceError | undefined>((resolve) => (this.resolveEnded = resolve));

  constructor(
    private readonly hub: EventHub,
    private readonly log: EventLog,
    private readonly filter: EventFilter,
    /** Where the catch-up starts after (undefined: the oldest event). */
    startCursor: string | undefined,
    private readonly options: HubOptions,
    private readonly metrics: Metrics,
    private readonly slot: SubscriptionSlot,
  ) {
    this.startCursor = startCursor;
    this.lastSeen = startCursor;
  }

  /** Whether the subscription has ended (closed, or failed). */
  get isEnded(): boolean {
    return this.closed;
  }

  /** @internal The shared reader hands over the live events of one read, in log order. */
  offer(events: readonly LoggedEvent[]): void {
    for (const [index, event] of events.entries()) {
      if (this.queue.length >= this.options.bufferLimit && this.catchingUp) {
        // Still reading the log up to its end: what is dropped here, that reading will find.
        this.queue.length = 0;
        this.droppedWhileReading = true;
      } else if (this.queue.length >= this.options.bufferLimit) {
        this.countDropped(events.slice(index));
        this.fail(
          new ProvenanceError(
            'RESOURCE_EXHAUSTED',
            `the subscriber reads too slowly: more than ${this.options.bufferLimit} events were waiting for it; resume after the last cursor it received`,
            'SUBSCRIBER_TOO_SLOW',
          ),
        );
        return;
      }
      this.queue.push(event);
    }
    this.wake?.();
  }

  /** @internal Ends the subscription with an error the client can resume from. */
  fail(error: ProvenanceError): void {
    if (this.closed) return;
    this.failure = error;
    this.end(error);
  }

  close(): void {
    this.end(undefined);
  }

  private end(failure: ProvenanceError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    // A client that went away wanted nothing more; one ended by the server resumes, reading these again.
    if (failure) this.countDropped(this.queue);
    this.queue = [];
    this.hub.remove(this);
    this.slot.release();
    this.resolveEnded(failure);
    this.wake?.();
  }

  /**
   * The events to deliver, in log order, a batch at a time (never empty):
   * first those after the start, read from the log, then the live ones.
   * Batches, rather than single events, so that delivering an event costs
   * no promise of its own; a batch holds at most one read's worth, so what
   * a subscriber has waiting stays within about its buffer limit.
   */
  async *batches(): AsyncGenerator<EventView[]> {
    try {
      for (let after = this.startCursor; ; ) {
        this.droppedWhileReading = false;
        const page = await this.log.read(after, this.options.readBatch);
        // The log's end is reached (and every live event dropped before this read was appended before it, so it is in
        // the page): from here on, live events are the only source, and none may be dropped.
        const last = page.length < this.options.readBatch && !this.droppedWhileReading;
        if (last) this.catchingUp = false;
        if (this.closed) break;
        if (page.length > 0) {
          after = page[page.length - 1]!.cursor;
          this.lastSeen = after;
          // Each page starts after the one before: nothing in it was seen yet.
          const deliverable = this.passing(page);
          if (deliverable.length > 0) yield this.delivered(await this.filter.view(deliverable));
        }
        if (this.closed || last) break;
      }
      while (!this.closed) {
        if (this.queue.length === 0) {
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
          continue;
        }
        const taken = this.queue.length <= this.options.readBatch ? this.queue : this.queue.slice(0, this.options.readBatch);
        if (taken === this.queue) this.queue = [];
        else this.queue.splice(0, taken.length);
        const deliverable = this.passing(taken.filter((event) => this.isNew(event)));
        if (deliverable.length > 0) yield this.delivered(await this.filter.view(deliverable));
      }
      if (this.failure) throw this.failure;
    } finally {
      this.close();
    }
  }

  /** The events that pass the filter; throws once its lineage holds more jobs than its limit (a batch's worth past it at most). */
  private passing(events: readonly LoggedEvent[]): LoggedEvent[] {
    const passed = events.filter((event) => matches(this.filter, event));
    const { lineage, lineageLimit = Infinity } = this.filter;
    if (lineage && lineage.size > lineageLimit) throw watchedLineageTooLarge(lineageLimit);
    return passed;
  }

  /** Events the subscription ends without: only those its filter would have let through count. */
  private countDropped(events: readonly LoggedEvent[]): void {
    const wanted = events.filter((event) => matches(this.filter, event)).length;
    if (wanted > 0) this.metrics.eventsDropped(wanted);
  }

  private delivered(batch: EventView[]): EventView[] {
    this.metrics.eventsDelivered(batch.length);
    return batch;
  }

  /** Whether a live event comes after the last one looked at; it is looked at either way. */
  private isNew(event: LoggedEvent): boolean {
    if (this.mayOverlap) {
      if (this.lastSeen !== undefined && compareCursors(event.cursor, this.lastSeen) <= 0) return false;
      this.mayOverlap = false;
    }
    this.lastSeen = event.cursor;
    return true;
  }
}

/** A lineage_of subscription that follows, or would follow, more than limit jobs. */
export function watchedLineageTooLarge(limit: number): ProvenanceError {
  return new ProvenanceError(
    'RESOURCE_EXHAUSTED',
    `the job watched through lineage_of and its descendants are more than ${limit} jobs (PROVENANCE_MAX_LINEAGE_NODES), too many for one subscription to follow; watch a job further downstream, or name job_ids`,
    'WATCHED_LINEAGE_TOO_LARGE',
  );
}

function shuttingDown(): ProvenanceError {
  return unavailable('the server is shutting down; resume after your last cursor', 0, 'SERVER_SHUTTING_DOWN');
}

/**
 * Whether the event passes the filter. A lineage filter takes in each job
 * with a parent already in it: every event carries its job's parents, so the
 * first event of a new job downstream is enough.
 */
export function matches(filter: EventFilter, event: LoggedEvent): boolean {
  if (!canRead(filter.reader, event)) return false;
  if (filter.lineage && !filter.lineage.has(event.jobId)) {
    if (!event.parentIds.some((id) => filter.lineage!.has(id))) return false;
    filter.lineage.add(event.jobId);
  }
  if (filter.jobIds && !filter.jobIds.has(event.jobId)) return false;
  if (filter.types && !filter.types.has(event.type)) return false;
  if (filter.labels) {
    for (const [key, value] of Object.entries(filter.labels)) if (event.labels[key] !== value) return false;
  }
  return true;
}
