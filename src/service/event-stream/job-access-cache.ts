import type { ReadableBy } from '../../domain/access.js';
import type { LoggedEvent } from '../../domain/job-events.js';
import { eventReferencedJobIds, type KnownJobs } from '../../domain/job-view.js';
import type { ProvenanceStore } from '../../domain/ports/provenance-store.js';

export interface JobAccessCacheOptions {
  /** How many jobs' access it keeps (PROVENANCE_EVENT_ACCESS_CACHE_SIZE); 0: none, every batch of events is looked up. */
  maxEntries: number;
  /** How long a job's access is used once read (PROVENANCE_EVENT_ACCESS_CACHE_TTL_MS): a grant taken away shows in events after at most this long. */
  ttlMs: number;
}

type Lookup = Promise<ReadonlyMap<string, ReadableBy>>;

/** One read of the jobs some events name: under way (known), then answered. */
interface EventRead {
  known: Promise<KnownJobs>;
  /** known's answer, once it came. */
  answer?: KnownJobs;
  readAt: number;
}

/**
 * The access (tenant and grants) of the jobs that events name besides their
 * own (parents, cached-from, the failed dependency), so that each subscriber
 * is shown them as job-view.ts says. Shared by every subscription of the
 * process: one store read per batch of events for the ids it does not hold,
 * and subscriptions asking for ids already being read wait for that read
 * instead of making their own, so a batch going to many subscribers is
 * looked up once. A job's tenant never changes, its grants may: a change
 * shows after at most ttlMs. An id no job has is not kept, since a job may
 * be created under it at any time.
 */
export class JobAccessCache {
  /** In the order they were read, so that the oldest goes first when it is full. */
  private readonly entries = new Map<string, { access: ReadableBy; expiresAt: number }>();
  /** The read under way for each id being read. */
  private readonly reading = new Map<string, Lookup>();
  /** What was read (or is being read) for each event object, and when; one entry for the events of one read. */
  private readonly byEvent = new WeakMap<LoggedEvent, EventRead>();

  constructor(
    private readonly store: Pick<ProvenanceStore, 'getJobs'>,
    private readonly options: JobAccessCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The access of the jobs each event names, in the order of events. The
   * hub hands the same event objects to every subscription: what was read
   * for an event serves the others while it is fresh, also while it is still
   * being read (the subscriptions of one batch ask in the same turn), so that
   * what each subscription does per event is a lookup; once answered, the
   * answer is kept with the read, and a batch whose events all have one
   * costs no promise, map or set of its own (asked by every subscription
   * for every batch: with 100 subscribers, those were the most of the
   * deliveries' garbage besides grpc-js's). A failed read is forgotten.
   */
  async ofEvents(events: readonly LoggedEvent[]): Promise<KnownJobs[]> {
    const now = this.now();
    const known = new Array<KnownJobs>(events.length);
    let answered = true;
    for (let i = 0; i < events.length; i++) {
      const read = this.byEvent.get(events[i]!);
      if (!read || now - read.readAt > this.options.ttlMs || !read.answer) {
        answered = false;
        break;
      }
      known[i] = read.answer;
    }
    if (answered) return known;
    const stale = events.filter((event) => {
      const read = this.byEvent.get(event);
      return !read || now - read.readAt > this.options.ttlMs;
    });
    if (stale.length > 0) {
      const read: EventRead = { known: this.known(stale.flatMap(eventReferencedJobIds)), readAt: now };
      for (const event of stale) this.byEvent.set(event, read);
      read.known.then(
        (answer) => (read.answer = answer),
        () => {
          for (const event of stale) if (this.byEvent.get(event) === read) this.byEvent.delete(event);
        },
      );
    }
    const pending = events.map((event) => this.byEvent.get(event)!.known);
    const reads = [...new Set(pending)];
    const answers = await Promise.all(reads);
    const answerOf = new Map(reads.map((read, i) => [read, answers[i]!]));
    return pending.map((read) => answerOf.get(read)!);
  }

  async known(ids: Iterable<string>): Promise<KnownJobs> {
    const known = new Map<string, ReadableBy | undefined>();
    const now = this.now();
    const toRead: string[] = [];
    const waits: Array<Promise<void>> = [];
    for (const id of new Set(ids)) {
      const entry = this.entries.get(id);
      const underWay = this.reading.get(id);
      if (entry && entry.expiresAt > now) known.set(id, entry.access);
      else if (underWay) waits.push(underWay.then((found) => void known.set(id, found.get(id))));
      else toRead.push(id);
    }
    if (toRead.length > 0) waits.push(this.read(toRead, now).then((found) => toRead.forEach((id) => known.set(id, found.get(id)))));
    await Promise.all(waits);
    return known;
  }

  private async read(ids: readonly string[], now: number): Lookup {
    const lookup: Lookup = this.store.getJobs(ids).then((jobs) => new Map(jobs.map((job) => [job.jobId, { tenant: job.tenant, readers: job.readers }])));
    for (const id of ids) this.reading.set(id, lookup);
    try {
      const found = await lookup;
      for (const [id, access] of found) this.remember(id, access, now);
      return found;
    } finally {
      for (const id of ids) if (this.reading.get(id) === lookup) this.reading.delete(id);
    }
  }

  private remember(id: string, access: ReadableBy, now: number): void {
    if (this.options.maxEntries === 0 || this.options.ttlMs === 0) return;
    this.entries.delete(id);
    this.entries.set(id, { access, expiresAt: now + this.options.ttlMs });
    if (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
