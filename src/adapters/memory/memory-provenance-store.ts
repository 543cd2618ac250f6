import { compareCodeUnits } from '../../domain/hashing.js';
import { cacheKeySalt } from '../../domain/cache-salt.js';
import { newEtag } from '../../domain/ids.js';
import { historyEntry, stateAt, stateOf, type JobState } from '../../domain/job-history.js';
import type { JobAccess } from '../../domain/access.js';
import type { JobRecord } from '../../domain/job.js';
import { findCycle, type LineageRow } from '../../domain/lineage.js';
import type { LineageStepRow } from '../../domain/lineage-stream.js';
import type {
  InsertOutcome,
  JobFilter,
  LineageQuery,
  ListJobsQuery,
  PendingEventsClearance,
  ProvenanceStore,
  Replacement,
  ReusableResultQuery,
  StatusQuery,
} from '../../domain/ports/provenance-store.js';
import { closedAdapter } from './closed.js';

/**
 * The records and their indexes, shared by every store opened on them (as
 * the connections of several processes share one database).
 */
class StoredRecords {
  readonly jobs = new Map<string, JobRecord>();
  /** parent id → ids of the records naming it: the lineage edges, parents without records included. */
  readonly children = new Map<string, Set<string>>();
  /** "tenant\0requestId" → job id. */
  readonly requestIds = new Map<string, string>();
  /** job id → its history entries, in the order written (copies: nothing outside holds them). */
  readonly history = new Map<string, Array<{ at: Date; state: JobState }>>();
}

/**
 * ProvenanceStore in the process's memory, for unit tests of the use cases:
 * the same answers as the database adapters (it passes their conformance
 * suite), with nothing to start. Every call runs to completion before the
 * next one starts (no await inside), which makes each call atomic, as a
 * transaction is; records are copied in and out, so callers never share an
 * object with the store. Once closed, every call fails UNAVAILABLE, as on a
 * database that is gone.
 */
export class MemoryProvenanceStore implements ProvenanceStore {
  private closed = false;

  constructor(private readonly data = new StoredRecords()) {}

  /** A second store on the same records, as another process's connection to the same database. */
  twin(): MemoryProvenanceStore {
    return new MemoryProvenanceStore(this.data);
  }

  /** Nothing loads in the background. */
  loading(): undefined {
    return undefined;
  }

  async ping(): Promise<void> {
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async insertJobs(records: readonly JobRecord[]): Promise<InsertOutcome[]> {
    const { jobs, requestIds } = this.open();
    return records.map((record): InsertOutcome => {
      if (jobs.has(record.jobId)) return { inserted: false, conflict: 'JOB_ID' };
      const cycle = this.cycleClosedBy(record);
      if (cycle) return { inserted: false, conflict: 'LINEAGE_CYCLE', cycle };
      if (record.requestId !== undefined && requestIds.has(requestKey(record.tenant, record.requestId))) {
        return { inserted: false, conflict: 'REQUEST_ID' };
      }
      this.write(copy(record));
      this.appendHistory(historyEntry(record, 'INSERT'));
      return { inserted: true };
    });
  }

  async replaceJob(record: JobRecord, expectedEtag: string): Promise<boolean> {
    const [replaced] = await this.replaceJobs([{ record, expectedEtag }]);
    return replaced!;
  }

  async replaceJobs(replacements: readonly Replacement[]): Promise<boolean[]> {
    const { jobs } = this.open();
    return replacements.map(({ record, expectedEtag }) => {
      const stored = jobs.get(record.jobId);
      if (stored?.etag !== expectedEtag) return false;
      this.unindex(stored);
      this.write(copy(record));
      this.appendHistory(historyEntry(record, 'REPLACE'));
      return true;
    });
  }

  async replaceJobsTogether(replacements: readonly Replacement[]): Promise<boolean[]> {
    const { jobs } = this.open();
    const current = replacements.every(({ record, expectedEtag }) => jobs.get(record.jobId)?.etag === expectedEtag);
    return current ? this.replaceJobs(replacements) : replacements.map(() => false);
  }

  async markStale(jobIds: readonly string[], now: Date): Promise<number> {
    const { jobs } = this.open();
    const etag = newEtag();
    let marked = 0;
    for (const jobId of new Set(jobIds)) {
      const record = jobs.get(jobId);
      if (record?.status !== 'SUCCEEDED') continue;
      Object.assign(record, { cacheState: 'STALE', etag, updatedAt: new Date(now) });
      this.appendHistory({ jobId, at: now, state: stateOf(record) });
      marked++;
    }
    return marked;
  }

  async findReusableResult(query: ReusableResultQuery): Promise<JobRecord | undefined> {
    const after = query.completedAfter?.getTime();
    const candidates = this.records().filter(
      (r) =>
        r.tenant === query.tenant &&
        r.definitionHash === query.definitionHash &&
        r.inputHash === query.inputHash &&
        cacheKeySalt(r) === query.cacheKeySalt &&
        r.status === 'SUCCEEDED' &&
        r.cacheState === 'FRESH' &&
        !r.payloadRedacted &&
        r.jobId !== query.excludeJobId &&
        (after === undefined || (r.completedAt !== undefined && r.completedAt.getTime() > after)),
    );
    const newest = candidates.sort(
      (a, b) => (b.completedAt?.getTime() ?? -Infinity) - (a.completedAt?.getTime() ?? -Infinity) || compareCodeUnits(b.jobId, a.jobId),
    )[0];
    return newest && copy(newest);
  }

  async clearPendingEvents(clearances: readonly PendingEventsClearance[]): Promise<void> {
    const { jobs } = this.open();
    for (const { jobId, etag, upToSeq } of clearances) {
      const record = jobs.get(jobId);
      if (record?.etag !== etag || record.pendingEvents === undefined) continue;
      const kept = record.pendingEvents.filter((event) => event.seq > upToSeq);
      if (kept.length > 0) record.pendingEvents = kept;
      else delete record.pendingEvents;
    }
  }

  async listWithPendingEvents(limit: number, afterJobId?: string): Promise<JobRecord[]> {
    return byIdAfter(
      this.records().filter((r) => (r.pendingEvents?.length ?? 0) > 0),
      limit,
      afterJobId,
    );
  }

  async listByStatus(query: StatusQuery): Promise<JobRecord[]> {
    return byIdAfter(
      this.records().filter((r) => r.origin === query.origin && query.statuses.includes(r.status)),
      query.limit,
      query.afterJobId,
    );
  }

  async getJobs(jobIds: readonly string[]): Promise<JobRecord[]> {
    const { jobs } = this.open();
    return [...new Set(jobIds)].flatMap((jobId) => {
      const record = jobs.get(jobId);
      return record ? [copy(record)] : [];
    });
  }

  async getAccess(jobIds: readonly string[]): Promise<JobAccess[]> {
    const { jobs } = this.open();
    return [...new Set(jobIds)].flatMap((jobId) => {
      const record = jobs.get(jobId);
      return record ? [{ jobId, tenant: record.tenant, readers: [...record.readers] }] : [];
    });
  }

  async findByRequestIds(tenant: string, requestIds: readonly string[]): Promise<JobRecord[]> {
    const { jobs, requestIds: index } = this.open();
    return [...new Set(requestIds)].flatMap((requestId) => {
      const jobId = index.get(requestKey(tenant, requestId));
      return jobId === undefined ? [] : [copy(jobs.get(jobId)!)];
    });
  }

  async findReferencedIds(jobIds: readonly string[]): Promise<string[]> {
    const { children } = this.open();
    return [...new Set(jobIds)].filter((jobId) => (children.get(jobId)?.size ?? 0) > 0);
  }

  async listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    const { tenant, grant } = query.reader;
    const after = query.after;
    return this.records()
      .filter(
        (r) =>
          (r.tenant === tenant || (grant !== undefined && r.readers.includes(grant))) &&
          matches(r, query.filter) &&
          (after === undefined || compareNewestFirst(r, { createdAt: after.createdAt, jobId: after.jobId }) > 0),
      )
      .sort(compareNewestFirst)
      .slice(0, query.limit)
      .map(copy);
  }

  async listChildren(jobId: string, limit: number, afterJobId?: string): Promise<JobRecord[]> {
    const { jobs, children } = this.open();
    return byIdAfter(
      [...(children.get(jobId) ?? [])].map((childId) => jobs.get(childId)!),
      limit,
      afterJobId,
    );
  }

  /** A breadth-first walk, so that each job comes once, at its shortest depth; the visited set ends it on cycles. */
  async lineage(query: LineageQuery): Promise<LineageRow[]> {
    const { jobs, children } = this.open();
    const next = (id: string): Iterable<string> =>
      query.direction === 'ANCESTORS' ? (jobs.get(id)?.parentIds ?? []) : (children.get(id) ?? []);
    const rows: LineageRow[] = [];
    const visited = new Set([query.rootId]);
    let frontier = [query.rootId];
    for (let depth = 1; frontier.length > 0 && depth <= (query.maxDepth ?? Infinity); depth++) {
      const following: string[] = [];
      for (const id of frontier) {
        for (const nextId of next(id)) {
          const record = jobs.get(nextId);
          // A parent without a record is left out, and so is the walk beyond it (it names no parents).
          if (visited.has(nextId) || !record) continue;
          visited.add(nextId);
          rows.push(lineageRow(record, depth, query.projection));
          following.push(nextId);
        }
      }
      frontier = following;
    }
    return rows;
  }

  async lineageStep(jobIds: readonly string[]): Promise<LineageStepRow[]> {
    const { jobs, children } = this.open();
    return [...new Set(jobIds)].flatMap((jobId) => {
      const record = jobs.get(jobId);
      if (!record) return [];
      const { parentIds, tenant, readers } = record;
      return [{ jobId, parentIds: [...parentIds], tenant, readers: [...readers], childIds: [...(children.get(jobId) ?? [])] }];
    });
  }

  async statesAsOf(jobIds: readonly string[], asOf: Date): Promise<Map<string, JobState | null>> {
    const { jobs, history } = this.open();
    const states = new Map<string, JobState | null>();
    for (const jobId of jobIds) {
      const record = jobs.get(jobId);
      if (!record || record.createdAt.getTime() > asOf.getTime()) continue;
      const entries = history.get(jobId);
      states.set(jobId, entries === undefined ? null : copy(stateAt(entries, asOf) ?? null));
    }
    return states;
  }

  private open(): StoredRecords {
    if (this.closed) throw closedAdapter('provenance store');
    return this.data;
  }

  private records(): JobRecord[] {
    return [...this.open().jobs.values()];
  }

  /** The cycle inserting the record would close, if any: only a job some record names as a parent can close one. */
  private cycleClosedBy(record: JobRecord): string[] | undefined {
    if (record.parentIds.includes(record.jobId)) return [record.jobId, record.jobId];
    if (!this.data.children.has(record.jobId)) return undefined;
    const descendants = this.descendantRows(record.jobId);
    return findCycle(record.jobId, record.parentIds, descendants);
  }

  /** Every stored job that reaches jobId through parent arrays. */
  private descendantRows(jobId: string): LineageRow[] {
    const { jobs, children } = this.data;
    const seen = new Set<string>();
    const pending = [jobId];
    while (pending.length > 0) {
      for (const child of children.get(pending.pop()!) ?? []) {
        if (seen.has(child)) continue;
        seen.add(child);
        pending.push(child);
      }
    }
    return [...seen].map((id) => {
      const { parentIds, tenant, readers } = jobs.get(id)!;
      return { jobId: id, parentIds, tenant, readers };
    });
  }

  private appendHistory(entry: { jobId: string; at: Date; state: JobState }): void {
    const { history } = this.data;
    let entries = history.get(entry.jobId);
    if (!entries) history.set(entry.jobId, (entries = []));
    entries.push(copy({ at: entry.at, state: entry.state }));
  }

  private write(record: JobRecord): void {
    const { jobs, children, requestIds } = this.data;
    jobs.set(record.jobId, record);
    for (const parentId of record.parentIds) {
      let named = children.get(parentId);
      if (!named) children.set(parentId, (named = new Set()));
      named.add(record.jobId);
    }
    if (record.requestId !== undefined) requestIds.set(requestKey(record.tenant, record.requestId), record.jobId);
  }

  private unindex(record: JobRecord): void {
    const { children, requestIds } = this.data;
    for (const parentId of record.parentIds) {
      const named = children.get(parentId);
      named?.delete(record.jobId);
      if (named?.size === 0) children.delete(parentId);
    }
    if (record.requestId !== undefined && requestIds.get(requestKey(record.tenant, record.requestId)) === record.jobId) {
      requestIds.delete(requestKey(record.tenant, record.requestId));
    }
  }
}

/** Records (and the JSON they hold) are copied at the boundary: a caller that edits what it got or gave changes nothing stored. */
function copy<T>(value: T): T {
  return structuredClone(value);
}

function requestKey(tenant: string, requestId: string): string {
  return `${tenant}\u0000${requestId}`;
}

/** Ascending by job id, after afterJobId when given, at most limit, copied. */
function byIdAfter(records: readonly JobRecord[], limit: number, afterJobId?: string): JobRecord[] {
  return records
    .filter((r) => afterJobId === undefined || compareCodeUnits(r.jobId, afterJobId) > 0)
    .sort((a, b) => compareCodeUnits(a.jobId, b.jobId))
    .slice(0, limit)
    .map(copy);
}

/** Newest first: createdAt, then jobId, both descending. */
function compareNewestFirst(a: Pick<JobRecord, 'createdAt' | 'jobId'>, b: Pick<JobRecord, 'createdAt' | 'jobId'>): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || compareCodeUnits(b.jobId, a.jobId);
}

function matches(record: JobRecord, filter: JobFilter): boolean {
  const time = record.createdAt.getTime();
  const { gt, gte, lt, lte } = filter.createdAt ?? {};
  return (
    (filter.type === undefined || record.type === filter.type) &&
    (filter.status === undefined || record.status === filter.status) &&
    (filter.providerId === undefined || record.provider.id === filter.providerId) &&
    (filter.providerModel === undefined || record.provider.model === filter.providerModel) &&
    (filter.providerVersion === undefined || record.provider.version === filter.providerVersion) &&
    (filter.definitionHash === undefined || record.definitionHash === filter.definitionHash) &&
    Object.entries(filter.labels ?? {}).every(([key, value]) => Object.hasOwn(record.labels, key) && record.labels[key] === value) &&
    (gt === undefined || time > gt.getTime()) &&
    (gte === undefined || time >= gte.getTime()) &&
    (lt === undefined || time < lt.getTime()) &&
    (lte === undefined || time <= lte.getTime())
  );
}

function lineageRow(record: JobRecord, depth: number, projection: LineageQuery['projection']): LineageRow {
  const { jobId, parentIds, tenant, readers, type, status, cacheState } = record;
  const ids = { depth, jobId, parentIds: [...parentIds], tenant, readers: [...readers] };
  if (projection === 'IDS') return ids;
  const summary = { ...ids, type, status, cacheState };
  return projection === 'SUMMARY' ? summary : { ...summary, record: copy(record) };
}
