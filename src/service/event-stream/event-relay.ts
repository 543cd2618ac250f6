import { ProvenanceError } from '../../domain/errors.js';
import type { JobRecord } from '../../domain/job.js';
import { publishedEvent, type ProvenanceEvent } from '../../domain/job-events.js';
import type { EventLog } from '../../domain/ports/event-log.js';
import type { Metrics } from '../../domain/ports/metrics.js';
import type { ProvenanceStore } from '../../domain/ports/provenance-store.js';
import type { ServiceLog } from '../provenance-service.js';

const SWEEP_PAGE = 500;

/**
 * Takes the events out of the records' outboxes and into the event log
 * (as publishedEvent has them): right after each write, and in sweeps for
 * what an unreachable log or a crash left behind. Appending is idempotent
 * per job and sequence number, so relaying an outbox twice, or from two
 * processes at once, adds each event once and keeps each job's events in
 * order. It times each event from its commit (the event's time) to its
 * append, and each sweep reports how many events it had to leave in the
 * outboxes.
 */
export class EventRelay {
  /** The events the log has acknowledged from this relay (withoutAppended); held no longer than their records are. */
  private readonly appended = new WeakSet<ProvenanceEvent>();
  private runningSweep: Promise<number> | undefined;
  /** The sweep that starts once the running one ends (sweep() says why). */
  private queuedSweep: Promise<number> | undefined;

  constructor(
    private readonly store: ProvenanceStore,
    private readonly events: EventLog,
    private readonly log: ServiceLog,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Appends the outboxes of records that were just written, then clears them.
   * A log that cannot be reached leaves the events in the outboxes for the
   * sweep; the writes they describe stand. Resolves with the number of
   * events left in the outboxes that way.
   */
  async relay(records: readonly JobRecord[]): Promise<number> {
    const withEvents = records.filter((record) => (record.pendingEvents?.length ?? 0) > 0);
    if (withEvents.length === 0) return 0;
    const events = withEvents.flatMap((record) => record.pendingEvents!);
    try {
      await this.completeInvalidations(withEvents);
      await this.events.append(events.map(publishedEvent));
      const appended = Date.now();
      for (const event of events) {
        this.appended.add(event);
        this.metrics.eventRelayed(appended - event.time.getTime());
      }
      await this.store.clearPendingEvents(
        withEvents.map((record) => ({ jobId: record.jobId, etag: record.etag, upToSeq: record.pendingEvents!.at(-1)!.seq })),
      );
      return 0;
    } catch (error) {
      if (!(error instanceof ProvenanceError) || error.code !== 'UNAVAILABLE') throw error;
      // Debug only: every write during an outage comes here. A Redis outage is logged once where its connections are
      // watched, a database outage by the calls that fail on it, and the sweep reports the backlog.
      this.log.debug({ err: error.cause ?? error, jobIds: withEvents.map((r) => r.jobId).slice(0, 10) }, 'events left in the outbox for the relay sweep');
      return events.length;
    }
  }

  /**
   * The record without the events of its outbox that the log already holds
   * from this relay, for a write of it: a worker's outcome is built from its
   * claim, whose event the claim's relay has usually appended by then, and
   * would otherwise store it in the outbox again and send it to the log a
   * second time, for the log to skip. An outbox left empty is left out, as a
   * clearance leaves it.
   */
  withoutAppended(record: JobRecord): JobRecord {
    const pending = record.pendingEvents;
    if (pending === undefined || !pending.some((event) => this.appended.has(event))) return record;
    const left = pending.filter((event) => !this.appended.has(event));
    if (left.length > 0) return { ...record, pendingEvents: left };
    const { pendingEvents: _appended, ...rest } = record;
    return rest;
  }

  /**
   * relay(), not waited for: for a write whose caller goes on without its
   * events being in the log (a worker's claim). An error other than an
   * unreachable log is logged; the events stay in the outboxes for the next
   * write of the job or the sweep.
   */
  relayInBackground(records: readonly JobRecord[]): void {
    this.relay(records).catch((error: unknown) => {
      this.log.warn({ err: error, jobIds: records.map((r) => r.jobId).slice(0, 10) }, 'events left in the outbox for the relay sweep');
    });
  }

  /**
   * Relays every outbox that is not empty; returns how many records had
   * events. One sweep at a time: the interval and the log's reconnection
   * both ask for sweeps, and on a busy server one took longer than the
   * interval, so two read and appended the same outboxes (the appends are
   * idempotent, but the work and the relay-lag metric were doubled). A sweep
   * asked for while one runs starts once it ends, once for every caller who
   * asked meanwhile: what was written before the ask is swept after it.
   */
  sweep(): Promise<number> {
    if (this.queuedSweep) return this.queuedSweep;
    if (!this.runningSweep) return this.startSweep();
    this.queuedSweep = this.runningSweep
      .catch(() => 0)
      .then(() => {
        this.queuedSweep = undefined;
        return this.startSweep();
      });
    return this.queuedSweep;
  }

  private startSweep(): Promise<number> {
    const running = this.sweepOnce().finally(() => {
      this.runningSweep = undefined;
    });
    this.runningSweep = running;
    return running;
  }

  private async sweepOnce(): Promise<number> {
    let relayed = 0;
    let left = 0;
    for (let after: string | undefined; ; ) {
      const records = await this.store.listWithPendingEvents(SWEEP_PAGE, after);
      left += await this.relay(records);
      relayed += records.length;
      if (records.length < SWEEP_PAGE) {
        this.metrics.outboxBacklog(left);
        return relayed;
      }
      after = records[records.length - 1]!.jobId;
    }
  }

  /**
   * A cache.invalidated event is written into the invalidated job's record
   * before its descendants are marked STALE; marking them again here (it is
   * idempotent) completes an invalidation that a crash interrupted, so that
   * the event is never published for a write that did not happen.
   */
  private async completeInvalidations(records: readonly JobRecord[]): Promise<void> {
    for (const record of records) {
      for (const event of record.pendingEvents!) {
        const downstream = event.type === 'cache.invalidated' ? (event.invalidatedJobIds ?? []).filter((id) => id !== event.jobId) : [];
        if (downstream.length > 0) await this.store.markStale(downstream, event.time);
      }
    }
  }
}
