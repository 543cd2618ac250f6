import type { JobAccess } from '../access.js';
import type { JobState } from '../job-history.js';
import type { JobOrigin, JobRecord, JobStatus } from '../job.js';
import type { ColumnarLineage, LineageDirection, LineageRow } from '../lineage.js';
import type { LineageStepRow } from '../lineage-stream.js';
import type { ShownTo } from '../shown-order.js';

/**
 * Where provenance documents live. Adapters: adapters/mongo (production) and
 * adapters/sqlite (embedded default). test/conformance/provenance-store/ holds
 * the one suite every adapter must pass.
 *
 * Adapters translate driver failures that mean "the database cannot be
 * reached right now" into ProvenanceError UNAVAILABLE; every other failure is
 * thrown as is and treated as internal.
 */
export interface ProvenanceStore {
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  /**
   * What the store still loads in the background after opening (it answers
   * every call meanwhile, correctly, if more slowly), for readiness; undefined
   * once nothing is.
   */
  loading(): StoreLoading | undefined;
  close(): Promise<void>;

  /**
   * Inserts new records, in order, each on its own: one that collides with an
   * existing job id or (tenant, request id) is reported and not written; the
   * others are written: outcomes as if the records were inserted one after
   * another. A record colliding on both is reported as JOB_ID.
   *
   * A record whose parents would close a cycle with what is stored (earlier
   * records of the call included) is reported as LINEAGE_CYCLE with the
   * cycle's path, and not written. The check is atomic with the insert,
   * against committed data, whatever other connections and processes write
   * at the same time: no sequence of insertJobs calls, concurrent or not,
   * ever stores a cycle. Records with ids in options.generatedIds may be
   * written before the others of the call.
   */
  insertJobs(records: readonly JobRecord[], options?: InsertOptions): Promise<InsertOutcome[]>;

  /**
   * Replaces a record if its stored etag is still expectedEtag. Returns
   * whether it did. The lineage is not checked: callers never change a
   * record's parents (an update is of the same job), so only inserts can
   * close a cycle.
   */
  replaceJob(record: JobRecord, expectedEtag: string): Promise<boolean>;

  /**
   * replaceJob for many records (distinct job ids) in one round trip; each
   * replacement succeeds or fails on its own. false: not applied (or, on a
   * busy MongoDB, applied and already replaced by a concurrent write). A
   * write error rejects the whole call.
   */
  replaceJobs(replacements: readonly Replacement[]): Promise<boolean[]>;

  /**
   * replaceJobs (distinct job ids) as one write, all or nothing: when every
   * stored etag is still the expected one, every record is replaced in one
   * transaction (outcomes all true); otherwise none is (all false). For
   * writes a crash must not take apart: a run's result and the invalidation
   * it owes (run-job.ts). The MongoDB adapter, which uses no multi-document
   * transactions, replaces them one after the other, in order, and stops at
   * the first refused: those before it stay written (outcomes true up to it,
   * false from it), and a crash between two leaves the later ones unwritten.
   */
  replaceJobsTogether(replacements: readonly Replacement[]): Promise<boolean[]>;

  /**
   * Sets cacheState STALE (with a new etag, the same for every record of the
   * call, and updatedAt = now) on every SUCCEEDED record of jobIds, in bulk
   * updates: only results can be stale, and records still being written
   * by workers must not have their etag changed under them. Returns how many
   * records it marked. A long list may be written in several transactions
   * (SQLite: steps of about STEP_BUDGET_MS), so that no write holds the others
   * long: a crash between them leaves a part marked, which calling it again
   * completes (the event relay does, before it publishes an invalidation).
   */
  markStale(jobIds: readonly string[], now: Date): Promise<number>;

  /**
   * The newest (by completedAt, then jobId) SUCCEEDED record of the tenant
   * with that definition and input hash whose cacheState is FRESH, completed
   * after completedAfter when given, other than excludeJobId, whose payload
   * was not redacted (a redacted payload hides what the result depends on).
   * A record without completedAt sorts last and never passes completedAfter.
   */
  findReusableResult(query: ReusableResultQuery): Promise<JobRecord | undefined>;

  /**
   * Removes, from each record's outbox (pendingEvents), the events with seq ≤
   * upToSeq, if the record's etag is still the one given; the etag does not
   * change. A record whose etag changed is left as it is (the write that
   * changed it takes its events further). An emptied outbox is removed
   * (pendingEvents absent). One round trip on SQLite, and on MongoDB when
   * each clearance empties its outbox (what the relay asks); otherwise at
   * most three.
   */
  clearPendingEvents(clearances: readonly PendingEventsClearance[]): Promise<void>;

  /** Records of any tenant with pending events, by jobId ascending, after afterJobId when given; limit ≥ 1. */
  listWithPendingEvents(limit: number, afterJobId?: string): Promise<JobRecord[]>;

  /** Records of any tenant with that origin and one of those statuses (none: no records), by jobId ascending, after afterJobId when given; limit ≥ 1. */
  listByStatus(query: StatusQuery): Promise<JobRecord[]>;

  /** The records of those ids that exist, each once, in no particular order. */
  getJobs(jobIds: readonly string[]): Promise<JobRecord[]>;

  /**
   * The access (tenant and reader grants) of those ids that have a record,
   * each once, in no particular order: what a view needs of the jobs a
   * record names, without reading and decoding their whole records.
   */
  getAccess(jobIds: readonly string[]): Promise<JobAccess[]>;

  /** The records a tenant created with those request ids. */
  findByRequestIds(tenant: string, requestIds: readonly string[]): Promise<JobRecord[]>;

  /** Those of jobIds that some record names as a parent, each once. */
  findReferencedIds(jobIds: readonly string[]): Promise<string[]>;

  /**
   * One page of the records a reader may see (its tenant's, and those whose
   * readers hold its grant), newest first (by createdAt, then jobId, both
   * descending); limit ≥ 1.
   */
  listJobs(query: ListJobsQuery): Promise<JobRecord[]>;

  /** Records naming jobId as a parent, by jobId ascending, after afterJobId when given; limit ≥ 1. */
  listChildren(jobId: string, limit: number, afterJobId?: string): Promise<JobRecord[]>;

  /**
   * Every job within maxDepth edges of the root in one direction (the root
   * excluded), in no particular order, in one database query (SQLite: one
   * walk of its graph, or one statement per depth while the graph loads).
   * For DESCENDANTS the root need not exist. maxDepth undefined: no limit.
   * Each job at most once, at its shortest depth where the store gives
   * depths; the walk ends on cycles, which insertJobs never stores but older
   * data may hold. With query.nearest, a store that gives depths may cut
   * the answer (LineageQuery.nearest).
   */
  lineage(query: LineageQuery): Promise<LineageRow[]>;

  /**
   * One step of a lineage walk too large to hold at once (StreamLineage,
   * domain/lineage-stream.ts): for each of jobIds that has a record, its row
   * in the IDS projection (no depth) with the ids of the jobs naming it as a
   * parent (childIds, each once); ids without a record are left out. Rows in
   * no particular order. The caller asks for at most
   * LINEAGE_STREAM_STEP_JOBS ids at a time, so that a step is bounded by
   * those jobs and their children. SQLite: one walk of its graph (from the
   * table while the graph loads); MongoDB: two queries.
   */
  lineageStep(jobIds: readonly string[]): Promise<LineageStepRow[]>;

  /**
   * A lineage without filter, fan-out caps or as_of, built by a store that
   * holds the graph (SQLite's lineage graph) as buildLineage builds it from
   * lineage()'s rows: the same nodes in the same order, cut at maxDepth and
   * maxNodes, the same edges and truncation reasons; the nodes in columns
   * (ids, depths, relations, who may read each), without their parents:
   * the edges say them.
   * Undefined when the store cannot (its graph is not loaded yet, and the
   * lineage is one it answers from the table meanwhile): the caller builds
   * it from lineage(). A larger lineage may wait for the graph, as its
   * lineage() would. Absent: the store never can.
   */
  builtLineage?(query: BuiltLineageQuery): Promise<BuiltLineage | undefined>;

  /**
   * Of jobIds, the jobs created at or before asOf, each with its state then
   * (domain/job-history.ts): that of its latest history entry at or before
   * asOf, or null when it has none (a record written before the store kept
   * history, to which no entry was given when the store started keeping
   * it: its current state stands for every time since its creation). Jobs
   * created later, or unknown, are absent.
   *
   * Every write that changes a record (insertJobs, replaceJob(s),
   * markStale) appends the new state to the history, in the write's
   * transaction where the store has them (MongoDB adapter: right after the
   * write). An insert's entry is at the record's createdAt, a replacement's
   * at its updatedAt, markStale's at now. The SQLite adapter writes an
   * insert's entry only when the job first changes (until then its document
   * holds that state), and answers the same. Reads other than this one
   * never touch the history.
   */
  statesAsOf(jobIds: readonly string[], asOf: Date): Promise<Map<string, JobState | null>>;
}

export interface StoreLoading {
  /** What loads, as readiness names it: e.g. lineageGraph. */
  name: string;
  /** How far the load is, for people. */
  progress: string;
  /** Settles once the load is done. */
  done: Promise<void>;
}

export interface Replacement {
  record: JobRecord;
  expectedEtag: string;
}

export interface PendingEventsClearance {
  jobId: string;
  etag: string;
  upToSeq: number;
}

export interface ReusableResultQuery {
  tenant: string;
  definitionHash: string;
  inputHash: string;
  /** Only records whose cacheKeySalt (domain/cache-salt.ts) is this; '' for records without salts. */
  cacheKeySalt: string;
  completedAfter?: Date;
  excludeJobId: string;
}

export interface StatusQuery {
  origin: JobOrigin;
  statuses: readonly JobStatus[];
  limit: number;
  afterJobId?: string;
}

export interface InsertOptions {
  /**
   * Ids of records of the call that the server generated (newJobId). Nothing
   * can name such an id as a parent before its record is stored, so such a
   * record cannot close a cycle, and an adapter may skip its check.
   */
  generatedIds?: ReadonlySet<string>;
}

export type InsertOutcome =
  | { inserted: true }
  | { inserted: false; conflict: 'JOB_ID' | 'REQUEST_ID' }
  /** cycle: the path the record would close, from its id back to it (jobId, ..., one of its parents, jobId). */
  | { inserted: false; conflict: 'LINEAGE_CYCLE'; cycle: string[] };

/** How much of each lineage row to read: ids, parent arrays, tenant and readers; plus type, status and cache state; or those plus the whole record. */
export type LineageProjection = 'IDS' | 'SUMMARY' | 'FULL';

export interface LineageQuery {
  rootId: string;
  direction: LineageDirection;
  maxDepth?: number;
  projection: LineageProjection;
  /**
   * When set, a store that gives depths may return, of more rows, only the
   * `nearest` ones nearest the root (by depth, then job id in code units,
   * or as shownTo is shown them when given) and the farthest one (last in
   * that order): all buildLineage needs to
   * answer with at most nearest - 1 nodes, the truncation reasons included,
   * without reading, sending and sorting the rest. (Only on a cycle through
   * the root, which insertJobs never stores, can a job cut from the
   * ancestors then show among the descendants.)
   */
  nearest?: number;
  /** The caller the nearest rows are chosen for (shown-order.ts); without it, by job id. */
  shownTo?: ShownTo;
}

/** What ProvenanceStore.builtLineage answers: GetLineage's walk of the root in those directions. */
export interface BuiltLineageQuery {
  rootId: string;
  directions: readonly LineageDirection[];
  maxDepth: number;
  maxNodes: number;
  /** The caller the nodes of each depth are ordered and cut for (shown-order.ts); without it, by job id. */
  shownTo?: ShownTo;
}

/** A lineage as ProvenanceStore.builtLineage gives it: all but the root, which the caller holds, with its nodes in columns. */
export type BuiltLineage = Omit<ColumnarLineage, 'root' | 'hiddenNodeCount'>;

/** All conditions must hold. createdAt bounds are combined. */
export interface JobFilter {
  type?: string;
  status?: JobStatus;
  providerId?: string;
  providerModel?: string;
  providerVersion?: string;
  definitionHash?: string;
  labels?: Record<string, string>;
  createdAt?: TimeRange;
}

export interface TimeRange {
  gt?: Date;
  gte?: Date;
  lt?: Date;
  lte?: Date;
}

export interface ListJobsQuery {
  /** The reader's tenant, and the reader grant naming it (readerGrant in domain/access.ts; none: its tenant's records only). */
  reader: { tenant: string; grant?: string };
  filter: JobFilter;
  limit: number;
  /** The last record of the previous page. */
  after?: { createdAt: Date; jobId: string };
}
