import type { JobAccess } from '../domain/access.js';
import type { JobState } from '../domain/job-history.js';
import type { JobRecord } from '../domain/job.js';
import type { LineageRow } from '../domain/lineage.js';
import type { LineageStepRow } from '../domain/lineage-stream.js';
import type { Metrics, StoreOperation } from '../domain/ports/metrics.js';
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
} from '../domain/ports/provenance-store.js';

/**
 * The store with every operation timed, whatever adapter is behind it:
 * one histogram sample per call, by operation and outcome. It adds a clock
 * read and a closure per call, nothing per record.
 */
export class TimedStore implements ProvenanceStore {
  constructor(
    private readonly store: ProvenanceStore,
    private readonly metrics: Metrics,
  ) {}

  /** The clock is read before the call: an adapter may do its work synchronously (better-sqlite3 does) before it returns the promise. */
  private async timed<T>(operation: StoreOperation, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await call();
      this.metrics.storeOperation(operation, performance.now() - started, false);
      return result;
    } catch (error) {
      this.metrics.storeOperation(operation, performance.now() - started, true);
      throw error;
    }
  }

  ping(): Promise<void> {
    return this.timed('ping', () => this.store.ping());
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** Not timed: a synchronous read of the adapter's state, asked by readiness. */
  loading(): StoreLoading | undefined {
    return this.store.loading();
  }

  insertJobs(records: readonly JobRecord[], options?: InsertOptions): Promise<InsertOutcome[]> {
    return this.timed('insertJobs', () => this.store.insertJobs(records, options));
  }

  replaceJob(record: JobRecord, expectedEtag: string): Promise<boolean> {
    return this.timed('replaceJob', () => this.store.replaceJob(record, expectedEtag));
  }

  replaceJobs(replacements: readonly Replacement[]): Promise<boolean[]> {
    return this.timed('replaceJobs', () => this.store.replaceJobs(replacements));
  }

  replaceJobsTogether(replacements: readonly Replacement[]): Promise<boolean[]> {
    return this.timed('replaceJobsTogether', () => this.store.replaceJobsTogether(replacements));
  }

  getAccess(jobIds: readonly string[]): Promise<JobAccess[]> {
    return this.timed('getAccess', () => this.store.getAccess(jobIds));
  }

  markStale(jobIds: readonly string[], now: Date): Promise<number> {
    return this.timed('markStale', () => this.store.markStale(jobIds, now));
  }

  findReusableResult(query: ReusableResultQuery): Promise<JobRecord | undefined> {
    return this.timed('findReusableResult', () => this.store.findReusableResult(query));
  }

  clearPendingEvents(clearances: readonly PendingEventsClearance[]): Promise<void> {
    return this.timed('clearPendingEvents', () => this.store.clearPendingEvents(clearances));
  }

  listWithPendingEvents(limit: number, afterJobId?: string): Promise<JobRecord[]> {
    return this.timed('listWithPendingEvents', () => this.store.listWithPendingEvents(limit, afterJobId));
  }

  listByStatus(query: StatusQuery): Promise<JobRecord[]> {
    return this.timed('listByStatus', () => this.store.listByStatus(query));
  }

  getJobs(jobIds: readonly string[]): Promise<JobRecord[]> {
    return this.timed('getJobs', () => this.store.getJobs(jobIds));
  }

  findByRequestIds(tenant: string, requestIds: readonly string[]): Promise<JobRecord[]> {
    return this.timed('findByRequestIds', () => this.store.findByRequestIds(tenant, requestIds));
  }

  findReferencedIds(jobIds: readonly string[]): Promise<string[]> {
    return this.timed('findReferencedIds', () => this.store.findReferencedIds(jobIds));
  }

  listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    return this.timed('listJobs', () => this.store.listJobs(query));
  }

  listChildren(jobId: string, limit: number, afterJobId?: string): Promise<JobRecord[]> {
    return this.timed('listChildren', () => this.store.listChildren(jobId, limit, afterJobId));
  }

  lineage(query: LineageQuery): Promise<LineageRow[]> {
    return this.timed('lineage', () => this.store.lineage(query));
  }

  /** Timed only where the store builds lineages (ProvenanceStore.builtLineage). */
  builtLineage(query: BuiltLineageQuery): Promise<BuiltLineage | undefined> {
    const { store } = this;
    return store.builtLineage ? this.timed('builtLineage', () => store.builtLineage!(query)) : Promise.resolve(undefined);
  }

  lineageStep(jobIds: readonly string[]): Promise<LineageStepRow[]> {
    return this.timed('lineageStep', () => this.store.lineageStep(jobIds));
  }

  statesAsOf(jobIds: readonly string[], asOf: Date): Promise<Map<string, JobState | null>> {
    return this.timed('statesAsOf', () => this.store.statesAsOf(jobIds, asOf));
  }
}
