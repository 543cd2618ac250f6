import type { JobAccess } from '../../domain/access.js';
import type { JobState } from '../../domain/job-history.js';
import type { JobRecord } from '../../domain/job.js';
import type { LineageRow } from '../../domain/lineage.js';
import type { LineageStepRow } from '../../domain/lineage-stream.js';
import type { Metrics } from '../../domain/ports/metrics.js';
import type {
  BuiltLineage,
  BuiltLineageQuery,
  InsertOptions,
  InsertOutcome,
  LineageQuery,
  ListJobsQuery,
  PendingEventsClearance,
  ProvenanceStore,
  Replacement,
  ReusableResultQuery,
  StatusQuery,
  StoreLoading,
} from '../../domain/ports/provenance-store.js';
import type { EventRelay } from './event-relay.js';

/** The store as the use cases see it (PublishingStore). */
export interface RelayingStore extends ProvenanceStore {
  /**
   * replaceJobs that resolves once the records are written, their events'
   * relay to the log under way but not waited for. For a worker's claim:
   * its compare-and-set is what the worker waits for; the claim's events
   * reach the log at once all the same, and the outcome's write carries
   * them too (a record's pending events stay in the record the worker holds),
   * so the outcome's relay appends them if this one has not, in order and
   * once (appending is idempotent per job and sequence number); if it has,
   * the outcome's write leaves them out.
   */
  replaceJobsRelayingLater(replacements: readonly Replacement[]): Promise<boolean[]>;

  /**
   * replaceJob, telling whether the relay that follows the write appended
   * every event of the record to the log ('relayed') or left some in the
   * outbox for the sweep ('left in the outbox': the log or the database
   * could not be reached). For an invalidation: its relay marks the jobs
   * the event names STALE before it publishes it, and only a relay that
   * did not get that far leaves the marking to its caller.
   */
  replaceJobRelaying(record: JobRecord, expectedEtag: string): Promise<RelayedReplacement>;
}

export type RelayedReplacement = 'refused' | 'relayed' | 'left in the outbox';

/**
 * The store as the use cases see it: every write that commits a record
 * relays that record's outbox to the event log right after, so that no use
 * case has to remember to, and counts the records it created and completed.
 * A replacement's outbox holds only events the log does not hold from this
 * process's relay. Reads pass straight through.
 */
export class PublishingStore implements RelayingStore {
  constructor(
    private readonly store: ProvenanceStore,
    private readonly relay: EventRelay,
    private readonly metrics: Metrics,
  ) {}

  async insertJobs(records: readonly JobRecord[], options?: InsertOptions): Promise<InsertOutcome[]> {
    const outcomes = await this.store.insertJobs(records, options);
    const inserted = records.filter((_, i) => outcomes[i]!.inserted);
    for (const record of inserted) this.metrics.jobCreated(record.type, record.origin);
    await this.committed(inserted);
    return outcomes;
  }

  async replaceJob(record: JobRecord, expectedEtag: string): Promise<boolean> {
    return (await this.replaceJobRelaying(record, expectedEtag)) !== 'refused';
  }

  async replaceJobRelaying(record: JobRecord, expectedEtag: string): Promise<RelayedReplacement> {
    const written = this.relay.withoutAppended(record);
    if (!(await this.store.replaceJob(written, expectedEtag))) return 'refused';
    return (await this.committed([written])) === 0 ? 'relayed' : 'left in the outbox';
  }

  async replaceJobs(replacements: readonly Replacement[]): Promise<boolean[]> {
    const written = this.withoutAppended(replacements);
    const applied = await this.store.replaceJobs(written);
    await this.committed(written.filter((_, i) => applied[i]).map((r) => r.record));
    return applied;
  }

  /** The outboxes of the records written are relayed together: an invalidation's relay marks its jobs STALE before it publishes. */
  async replaceJobsTogether(replacements: readonly Replacement[]): Promise<boolean[]> {
    const written = this.withoutAppended(replacements);
    const applied = await this.store.replaceJobsTogether(written);
    await this.committed(written.filter((_, i) => applied[i]).map((r) => r.record));
    return applied;
  }

  async replaceJobsRelayingLater(replacements: readonly Replacement[]): Promise<boolean[]> {
    const written = this.withoutAppended(replacements);
    const applied = await this.store.replaceJobs(written);
    const records = written.filter((_, i) => applied[i]).map((r) => r.record);
    this.counted(records);
    this.relay.relayInBackground(records);
    return applied;
  }

  /** Replacements whose records carry events the log already holds, without them (EventRelay.withoutAppended). */
  private withoutAppended(replacements: readonly Replacement[]): Replacement[] {
    return replacements.map((replacement) => {
      const record = this.relay.withoutAppended(replacement.record);
      return record === replacement.record ? replacement : { record, expectedEtag: replacement.expectedEtag };
    });
  }

  /** Resolves with the number of events the relay left in the outboxes (EventRelay.relay). */
  private async committed(records: readonly JobRecord[]): Promise<number> {
    this.counted(records);
    return this.relay.relay(records);
  }

  /**
   * A write completed a record when the newest event of its outbox, the one
   * that write numbered last, is job.provenance.completed: only the move to a
   * terminal status adds that event, and every later write of a terminal
   * record (an invalidation) adds an event after it.
   */
  private counted(records: readonly JobRecord[]): void {
    for (const record of records) {
      const newest = record.pendingEvents?.at(-1);
      if (newest?.type === 'job.provenance.completed' && newest.seq === record.eventSeq) {
        this.metrics.jobCompleted(record.type, record.origin, record.status, record.durationMs);
      }
    }
  }

  ping(): Promise<void> {
    return this.store.ping();
  }

  loading(): StoreLoading | undefined {
    return this.store.loading();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  getJobs(jobIds: readonly string[]): Promise<JobRecord[]> {
    return this.store.getJobs(jobIds);
  }

  getAccess(jobIds: readonly string[]): Promise<JobAccess[]> {
    return this.store.getAccess(jobIds);
  }

  findByRequestIds(tenant: string, requestIds: readonly string[]): Promise<JobRecord[]> {
    return this.store.findByRequestIds(tenant, requestIds);
  }

  findReferencedIds(jobIds: readonly string[]): Promise<string[]> {
    return this.store.findReferencedIds(jobIds);
  }

  listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    return this.store.listJobs(query);
  }

  listChildren(jobId: string, limit: number, afterJobId?: string): Promise<JobRecord[]> {
    return this.store.listChildren(jobId, limit, afterJobId);
  }

  lineage(query: LineageQuery): Promise<LineageRow[]> {
    return this.store.lineage(query);
  }

  builtLineage(query: BuiltLineageQuery): Promise<BuiltLineage | undefined> {
    return this.store.builtLineage ? this.store.builtLineage(query) : Promise.resolve(undefined);
  }

  lineageStep(jobIds: readonly string[]): Promise<LineageStepRow[]> {
    return this.store.lineageStep(jobIds);
  }

  statesAsOf(jobIds: readonly string[], asOf: Date): Promise<Map<string, JobState | null>> {
    return this.store.statesAsOf(jobIds, asOf);
  }

  markStale(jobIds: readonly string[], now: Date): Promise<number> {
    return this.store.markStale(jobIds, now);
  }

  findReusableResult(query: ReusableResultQuery): Promise<JobRecord | undefined> {
    return this.store.findReusableResult(query);
  }

  listByStatus(query: StatusQuery): Promise<JobRecord[]> {
    return this.store.listByStatus(query);
  }

  clearPendingEvents(clearances: readonly PendingEventsClearance[]): Promise<void> {
    return this.store.clearPendingEvents(clearances);
  }

  listWithPendingEvents(limit: number, afterJobId?: string): Promise<JobRecord[]> {
    return this.store.listWithPendingEvents(limit, afterJobId);
  }
}
