import {
  MongoClient,
  MongoServerError,
  type AnyBulkWriteOperation,
  type Collection,
  type Document,
  type Filter,
  type UpdateFilter,
} from 'mongodb';
import type { JobAccess } from '../../domain/access.js';
import type { ProvenanceEvent } from '../../domain/job-events.js';
import type { JobRecord } from '../../domain/job.js';
import { descendantsWithPending, findCycle, type LineageRow } from '../../domain/lineage.js';
import type { LineageStepRow } from '../../domain/lineage-stream.js';
import { newEtag } from '../../domain/ids.js';
import { decodeJobState, encodeJobState, historyEntry, stateOf, type JobHistoryEntry, type JobState } from '../../domain/job-history.js';
import type {
  InsertOptions,
  InsertOutcome,
  LineageQuery,
  ListJobsQuery,
  PendingEventsClearance,
  ProvenanceStore,
  Replacement,
  ReusableResultQuery,
  StatusQuery,
} from '../../domain/ports/provenance-store.js';
import { fromDocument, toDocument, type JobDocument } from './documents.js';
import { connectCollection, DEFAULT_TIMEOUT_MS, type MongoConnectionOptions } from './connection.js';
import { OperationWatch } from './operation-watch.js';
import { translateDriverError } from './errors.js';
import { InsertTurns, type Decision } from './insert-turns.js';

const COLLECTION = 'jobs';
const HISTORY_COLLECTION = 'job_history';
/** The _id of the entry that says the jobs of a database older than history got theirs (no job id has a NUL). */
const HISTORY_BACKFILLED = '\u0000backfilled';
const HISTORY_BACKFILL_BATCH = 1000;
/** Documents whose history entry repairHistory confirms per round trip. */
const HISTORY_REPAIR_BATCH = 1000;
/** How often each process confirms the history entries of the documents written since (and repairs those a stopped process did not write). */
const HISTORY_REPAIR_INTERVAL_MS = 60_000;
/** More jobs than any lineage returns (PROVENANCE_MAX_LINEAGE_NODES is at most 10,000,000): the server's 16 MiB reply limit is what bounds a batch. */
const LINEAGE_BATCH_SIZE = 10_000_000;
const DUPLICATE_KEY = 11000;
/** Rounds of "read what is stored, then write the rest" before a duplicate key is thrown as it is. */
const MAX_INSERT_ATTEMPTS = 3;

type InsertStep = 'WRITTEN' | 'WRITE' | 'JOB_ID' | 'REQUEST_ID';

/**
 * One history entry (domain/job-history.ts) in the job_history collection.
 * _id is the job id and the etag of the write it records (unique per write),
 * so that writing an entry again (a retried insert) is a no-op; order, a
 * time with sub-millisecond precision from this process, orders the entries
 * of one job at one millisecond; state is the state's JSON text, so that
 * client JSON (metadata) needs no key escaping.
 */
interface HistoryDocument {
  _id: string;
  jobId: string;
  at: Date;
  order: number;
  state: string;
}

/** The fields a state is made of, projected from a job document (the emulator ignores find() projections: aggregate). */
const STATE_FIELDS = Object.fromEntries(
  ['status', 'cacheState', 'result', 'error', 'startedAt', 'completedAt', 'updatedAt', 'durationMs', 'attempt', 'labels', 'metadata', 'etag', 'eventSeq'].map((field) => [field, 1]),
);

/** The ProvenanceStore on MongoDB: one document per job in the `jobs` collection (docs: DESIGN.md). */
export class MongoProvenanceStore implements ProvenanceStore {
  private closed = false;
  private repairTimer: NodeJS.Timeout | undefined;
  /** The repair pass under way, which a second caller joins rather than runs again. */
  private repairing: Promise<void> | undefined;

  private constructor(
    private readonly client: MongoClient,
    private readonly jobs: Collection<JobDocument>,
    private readonly history: Collection<HistoryDocument>,
    private readonly turns: InsertTurns,
    private readonly watch: OperationWatch,
  ) {}

  /** Connects and creates the indexes (creating an existing index is a no-op). */
  static async connect(options: MongoConnectionOptions): Promise<MongoProvenanceStore> {
    const { client, collection } = await connectCollection<JobDocument>(options, COLLECTION, [
      { key: { parentIds: 1 } },
      // The cache lookup: a tenant's newest fresh result of one definition, input and salts (absent cacheKeySalt: none).
      // A database created before salts keeps its index without cacheKeySalt too (docs/operations.md): it may be dropped.
      { key: { tenant: 1, definitionHash: 1, inputHash: 1, cacheKeySalt: 1, completedAt: -1, _id: -1 } },
      { key: { status: 1, createdAt: -1 } },
      // The worker's startup sweep over submitted jobs by status.
      { key: { origin: 1, status: 1, _id: 1 } },
      { key: { type: 1, createdAt: -1 } },
      { key: { tenant: 1, createdAt: -1, _id: -1 } },
      // Records shared with a subject, newest first (multikey): the other branch of listJobs.
      { key: { readers: 1, createdAt: -1, _id: -1 } },
      { key: { tenant: 1, requestId: 1 }, unique: true, partialFilterExpression: { requestId: { $exists: true } } },
      // The relay's sweep: only the few records with pending events are in it.
      { key: { hasPendingEvents: 1, _id: 1 }, partialFilterExpression: { hasPendingEvents: true } },
      // The history repair: only the documents written since its last pass are in it.
      { key: { historyPending: 1, _id: 1 }, partialFilterExpression: { historyPending: true } },
    ]);
    try {
      const history = client.db(options.database).collection<HistoryDocument>(HISTORY_COLLECTION);
      // statesAsOf: a job's entries up to a time.
      await history.createIndexes([{ key: { jobId: 1, at: 1 } }]);
      const timeoutMs = options.serverSelectionTimeoutMS ?? DEFAULT_TIMEOUT_MS;
      const watch = new OperationWatch(client, timeoutMs);
      const turns = await InsertTurns.open(client.db(options.database), timeoutMs, watch);
      const store = new MongoProvenanceStore(client, collection, history, turns, watch);
      await store.backfillHistory();
      await store.repairHistory();
      store.repairTimer = setInterval(() => void store.repairHistory().catch(() => undefined), HISTORY_REPAIR_INTERVAL_MS).unref();
      return store;
    } catch (error) {
      await client.close();
      throw translateDriverError(error);
    }
  }

  /** Nothing loads in the background. */
  loading(): undefined {
    return undefined;
  }

  async ping(): Promise<void> {
    await this.guard(() => this.client.db('admin').command({ ping: 1 }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.repairTimer);
    await this.repairing?.catch(() => undefined);
    await this.client.close();
  }

  /**
   * Records with generated ids go straight in: they cannot close a cycle.
   * The others are checked and written in a turn (insert-turns.ts), since
   * only a check serialized with every other checked insert holds under
   * concurrency: two inserts can close a cycle through stored jobs together
   * without touching a common document.
   */
  insertJobs(records: readonly JobRecord[], options: InsertOptions = {}): Promise<InsertOutcome[]> {
    return this.guard(async () => {
      const generated = options.generatedIds ?? new Set<string>();
      const direct = records.filter((record) => generated.has(record.jobId));
      const checked = records.filter((record) => !generated.has(record.jobId));
      const [directOutcomes, checkedOutcomes] = await Promise.all([
        this.insertDirectly(direct),
        checked.length === 0 ? [] : this.turns.run(checked, (batch) => this.decideChecked(batch), (batch) => this.insertDirectly(batch)),
      ]);
      let nextDirect = 0;
      let nextChecked = 0;
      return records.map((record) => (generated.has(record.jobId) ? directOutcomes[nextDirect++]! : checkedOutcomes[nextChecked++]!));
    });
  }

  /** Inserts without a lineage check; idempotent: a record already stored as given counts as inserted. */
  private async insertDirectly(records: readonly JobRecord[]): Promise<InsertOutcome[]> {
    if (records.length === 0) return [];
    try {
      await this.jobs.insertMany(records.map(toDocument), { ordered: false });
      await this.appendHistory(records.map((record) => historyEntry(record, 'INSERT')));
      return records.map((): InsertOutcome => ({ inserted: true }));
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      return this.insertAfterConflict(records);
    }
  }

  /**
   * For each record, in order: its conflict, the cycle it would close with
   * what is stored and the records before it that are to be written, or
   * undefined (write it). Only an id some job names as a parent can close a
   * cycle, so the descendant walk runs only for those.
   */
  private async decideChecked(records: readonly JobRecord[]): Promise<Decision[]> {
    // Two independent reads: sent together, they cost one round trip of waiting instead of two.
    const [steps, referencedIds] = await Promise.all([this.planInserts(records), this.findReferencedIds(records.map((record) => record.jobId))]);
    const referenced = new Set(referencedIds);
    const accepted: JobRecord[] = [];
    const decisions: Decision[] = [];
    for (const [index, record] of records.entries()) {
      const step = steps[index]!;
      if (step === 'WRITTEN') decisions.push({ inserted: true });
      else if (step !== 'WRITE') decisions.push({ inserted: false, conflict: step });
      else {
        const cycle = await this.cycleClosedBy(record, referenced, accepted);
        if (cycle) decisions.push({ inserted: false, conflict: 'LINEAGE_CYCLE', cycle });
        else {
          decisions.push(undefined);
          accepted.push(record);
        }
      }
    }
    return decisions;
  }

  private async cycleClosedBy(record: JobRecord, referenced: ReadonlySet<string>, accepted: readonly JobRecord[]): Promise<string[] | undefined> {
    const { jobId, parentIds } = record;
    if (parentIds.includes(jobId)) return [jobId, jobId];
    if (!referenced.has(jobId) && !accepted.some((earlier) => earlier.parentIds.includes(jobId))) return undefined;
    const descendants = await descendantsWithPending(jobId, accepted, (id) => this.lineage({ rootId: id, direction: 'DESCENDANTS', projection: 'IDS' }));
    return findCycle(jobId, parentIds, descendants);
  }

  /**
   * After a batch hit a duplicate key. Real MongoDB wrote every other record
   * of the batch; the emulator wrote none and reports nothing usable. So the
   * outcomes are worked out from what is stored, and whatever may still be
   * written goes in one more batch. Only a concurrent writer taking a key in
   * between makes that batch fail, and then the state is read again.
   */
  private async insertAfterConflict(records: readonly JobRecord[]): Promise<InsertOutcome[]> {
    for (let attempt = 1; ; attempt++) {
      const plan = await this.planInserts(records);
      const writable = records.filter((_, index) => plan[index] === 'WRITE');
      try {
        if (writable.length > 0) await this.jobs.insertMany(writable.map(toDocument), { ordered: false });
      } catch (error) {
        if (isDuplicateKeyError(error) && attempt < MAX_INSERT_ATTEMPTS) continue;
        throw error;
      }
      // A record stored earlier by this call may still lack its entry.
      await this.appendHistory(records.filter((_, index) => plan[index] === 'WRITE' || plan[index] === 'WRITTEN').map((record) => historyEntry(record, 'INSERT')));
      return plan.map((step): InsertOutcome =>
        step === 'WRITTEN' || step === 'WRITE' ? { inserted: true } : { inserted: false, conflict: step },
      );
    }
  }

  /**
   * What happens to each record, taken in order, given what is stored: a
   * stored document with the record's own etag is the record (etags are
   * unique per write); otherwise a taken job id or (tenant, request id),
   * stored or claimed by an earlier record of the call, is a conflict.
   */
  private async planInserts(records: readonly JobRecord[]): Promise<InsertStep[]> {
    const requestIdsByTenant = new Map<string, string[]>();
    for (const record of records) {
      if (record.requestId === undefined) continue;
      const requestIds = requestIdsByTenant.get(record.tenant) ?? [];
      requestIds.push(record.requestId);
      requestIdsByTenant.set(record.tenant, requestIds);
    }
    const stored = await this.jobs
      .aggregate<Pick<JobDocument, '_id' | 'etag' | 'tenant' | 'requestId'>>([
        {
          $match: {
            $or: [
              { _id: { $in: records.map((record) => record.jobId) } },
              ...[...requestIdsByTenant].map(([tenant, requestIds]) => ({ tenant, requestId: { $in: requestIds } })),
            ],
          },
        },
        { $project: { _id: 1, etag: 1, tenant: 1, requestId: 1 } },
      ])
      .toArray();
    const storedEtags = new Map(stored.map((document) => [document._id, document.etag]));
    const takenIds = new Set(storedEtags.keys());
    const takenRequests = new Set<string>();
    for (const document of stored) {
      if (document.requestId !== undefined) takenRequests.add(requestKey(document.tenant, document.requestId));
    }
    return records.map((record): InsertStep => {
      if (storedEtags.get(record.jobId) === record.etag) return 'WRITTEN';
      if (takenIds.has(record.jobId)) return 'JOB_ID';
      const request = record.requestId === undefined ? undefined : requestKey(record.tenant, record.requestId);
      if (request !== undefined && takenRequests.has(request)) return 'REQUEST_ID';
      takenIds.add(record.jobId);
      if (request !== undefined) takenRequests.add(request);
      return 'WRITE';
    });
  }

  async replaceJob(record: JobRecord, expectedEtag: string): Promise<boolean> {
    const [replaced] = await this.replaceJobs([{ record, expectedEtag }]);
    return replaced!;
  }

  /**
   * One unordered bulk write. Its result counts the replacements that
   * matched but does not say which (neither MongoDB's nor the emulator's),
   * so a partial count is resolved by reading the etags back: a replacement
   * happened if its record's etag, unique to that write, is stored, or was
   * replaced by a later replacement of the same call. A concurrent write
   * landing between the bulk write and that read makes a replacement that
   * happened look refused, as if it had lost the race to that write.
   */
  replaceJobs(replacements: readonly Replacement[]): Promise<boolean[]> {
    return this.guard(async () => {
      if (replacements.length === 0) return [];
      const { matchedCount } = await this.jobs.bulkWrite(
        replacements.map(({ record, expectedEtag }) => ({
          replaceOne: { filter: { _id: record.jobId, etag: expectedEtag }, replacement: toDocument(record) },
        })),
        { ordered: false },
      );
      const replaced = await this.replaced(replacements, matchedCount);
      await this.appendHistory(replacements.filter((_, index) => replaced[index]).map(({ record }) => historyEntry(record, 'REPLACE')));
      return replaced;
    });
  }

  /**
   * One replaceJob after the other, stopping at the first refused: the
   * adapter uses no multi-document transactions (the emulator has none),
   * so the port's all or nothing holds only until the first write, and a
   * crash between two leaves the later ones unwritten.
   */
  async replaceJobsTogether(replacements: readonly Replacement[]): Promise<boolean[]> {
    const outcomes = replacements.map(() => false);
    for (const [index, { record, expectedEtag }] of replacements.entries()) {
      if (!(await this.replaceJob(record, expectedEtag))) break;
      outcomes[index] = true;
    }
    return outcomes;
  }

  /** Which replacements of the bulk write happened, given how many matched. */
  private async replaced(replacements: readonly Replacement[], matchedCount: number): Promise<boolean[]> {
    if (matchedCount === replacements.length) return replacements.map(() => true);
    if (matchedCount === 0) return replacements.map(() => false);
    const etags = await this.storedEtags(replacements.map(({ record }) => record.jobId));
    const replaced: boolean[] = [];
    for (let index = replacements.length - 1; index >= 0; index--) {
      const { record, expectedEtag } = replacements[index]!;
      replaced[index] = etags.get(record.jobId) === record.etag;
      if (replaced[index]) etags.set(record.jobId, expectedEtag);
    }
    return replaced;
  }

  /** The marked records, found by the etag the update gave them all, take their history entries after the update. */
  markStale(jobIds: readonly string[], now: Date): Promise<number> {
    return this.guard(async () => {
      if (jobIds.length === 0) return 0;
      const etag = newEtag();
      const result = await this.jobs.updateMany(
        { _id: { $in: [...jobIds] }, status: 'SUCCEEDED' },
        { $set: { cacheState: 'STALE', etag, updatedAt: now, historyPending: true } },
      );
      if (result.matchedCount > 0) {
        const marked = await this.jobs
          .aggregate<JobDocument>([{ $match: { _id: { $in: [...jobIds] }, etag } }, { $project: STATE_FIELDS }])
          .toArray();
        await this.appendHistory(marked.map((document) => ({ jobId: document._id, at: now, state: stateOf(fromDocument(document)) })));
      }
      return result.matchedCount;
    });
  }

  /**
   * Jobs created by asOf, then their entries up to asOf (a plain find, sorted
   * here: a job has few entries), the latest of each taken.
   */
  statesAsOf(jobIds: readonly string[], asOf: Date): Promise<Map<string, JobState | null>> {
    return this.guard(async () => {
      const states = new Map<string, JobState | null>();
      if (jobIds.length === 0) return states;
      const existing = await this.jobs
        .aggregate<Pick<JobDocument, '_id'>>([{ $match: { _id: { $in: [...jobIds] }, createdAt: { $lte: asOf } } }, { $project: { _id: 1 } }])
        .toArray();
      if (existing.length === 0) return states;
      const entries = await this.history.find({ jobId: { $in: existing.map((document) => document._id) }, at: { $lte: asOf } }).toArray();
      const latest = new Map<string, HistoryDocument>();
      for (const entry of entries) {
        const kept = latest.get(entry.jobId);
        if (!kept || entry.at.getTime() > kept.at.getTime() || (entry.at.getTime() === kept.at.getTime() && entry.order > kept.order)) latest.set(entry.jobId, entry);
      }
      for (const { _id: jobId } of existing) {
        const entry = latest.get(jobId);
        states.set(jobId, entry ? decodeJobState(entry.state) : null);
      }
      return states;
    });
  }

  /**
   * Once per database: gives every job one entry at its creation, of its
   * state now, so that a database of a build before history answers as of
   * any time since (its earlier states were never kept: docs/decisions.md,
   * "As of a time"). A marker entry says it was done; a process stopped
   * before it is done does it again (entries already written stay as they
   * are). On a new database, one read that finds no job.
   */
  private async backfillHistory(): Promise<void> {
    if ((await this.history.countDocuments({ _id: HISTORY_BACKFILLED }, { limit: 1 })) > 0) return;
    let batch: JobHistoryEntry[] = [];
    for await (const document of this.jobs.aggregate<JobDocument>([{ $project: { ...STATE_FIELDS, createdAt: 1 } }])) {
      batch.push({ jobId: document._id, at: document.createdAt, state: stateOf(fromDocument(document)) });
      if (batch.length === HISTORY_BACKFILL_BATCH) {
        await this.appendHistory(batch);
        batch = [];
      }
    }
    await this.appendHistory(batch);
    try {
      await this.history.insertOne({ _id: HISTORY_BACKFILLED, jobId: '', at: new Date(0), order: 0, state: '' });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }

  /**
   * MongoDB writes a job and its history entry one after the other (no
   * multi-document transaction on a standalone server), so a process
   * stopped between the two leaves a state without its entry. Every write
   * flags its document (historyPending); this pass, at connect and every
   * HISTORY_REPAIR_INTERVAL_MS in every process, goes once through the
   * flagged documents in id order, writes the entry of each one's current
   * state where it is missing (the entry an insert writes, at createdAt,
   * when the job has none; else at updatedAt, the time its write gave it:
   * the very entry the write would have written, under the same _id), and
   * removes the flags of the documents still at the etag it read. A state
   * that a later write replaced before any pass saw it is not recovered
   * (docs/decisions.md, "As of a time"). A failed pass is repeated by the
   * next one.
   */
  repairHistory(): Promise<void> {
    this.repairing ??= this.guard(async () => {
      for (let after = ''; ; ) {
        const flagged = await this.jobs
          .aggregate<JobDocument>([
            { $match: { historyPending: true, _id: { $gt: after } } },
            { $sort: { _id: 1 } },
            { $limit: HISTORY_REPAIR_BATCH },
            { $project: { ...STATE_FIELDS, createdAt: 1 } },
          ])
          .toArray();
        if (flagged.length === 0) return;
        const ids = flagged.map((document) => document._id);
        const stored = await this.history.aggregate<Pick<HistoryDocument, '_id' | 'jobId'>>([{ $match: { jobId: { $in: ids } } }, { $project: { _id: 1, jobId: 1 } }]).toArray();
        const entryIds = new Set(stored.map((entry) => entry._id));
        const withEntries = new Set(stored.map((entry) => entry.jobId));
        await this.appendHistory(
          flagged
            .filter((document) => !entryIds.has(`${document._id} ${document.etag}`))
            .map((document) => ({ jobId: document._id, at: withEntries.has(document._id) ? document.updatedAt : document.createdAt, state: stateOf(fromDocument(document)) })),
        );
        await this.jobs.updateMany(
          { _id: { $in: ids }, $or: flagged.map((document) => ({ _id: document._id, etag: document.etag })) },
          { $unset: { historyPending: '' } },
        );
        if (flagged.length < HISTORY_REPAIR_BATCH) return;
        after = ids[ids.length - 1]!;
      }
    }).finally(() => (this.repairing = undefined));
    return this.repairing;
  }

  /**
   * Writes history entries, unordered; one already stored (same job and
   * etag: a retried write) stays as it is. The emulator writes nothing of a
   * batch that hit a duplicate, so then the entries not stored are written
   * again.
   */
  private async appendHistory(entries: readonly JobHistoryEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const documents = entries.map((entry): HistoryDocument => ({
      _id: `${entry.jobId} ${entry.state.etag}`,
      jobId: entry.jobId,
      at: entry.at,
      order: performance.timeOrigin + performance.now(),
      state: encodeJobState(entry.state),
    }));
    try {
      await this.history.insertMany(documents, { ordered: false });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const stored = new Set(
        (await this.history.aggregate<{ _id: string }>([{ $match: { _id: { $in: documents.map((d) => d._id) } } }, { $project: { _id: 1 } }]).toArray()).map((d) => d._id),
      );
      const missing = documents.filter((document) => !stored.has(document._id));
      if (missing.length > 0) await this.history.insertMany(missing, { ordered: false });
    }
  }

  findReusableResult(query: ReusableResultQuery): Promise<JobRecord | undefined> {
    return this.guard(async () => {
      const filter: Filter<JobDocument> = {
        tenant: query.tenant,
        definitionHash: query.definitionHash,
        inputHash: query.inputHash,
        cacheKeySalt: query.cacheKeySalt === '' ? { $exists: false } : query.cacheKeySalt,
        status: 'SUCCEEDED',
        cacheState: 'FRESH',
        payloadRedacted: false,
        _id: { $ne: query.excludeJobId },
      };
      if (query.completedAfter !== undefined) filter.completedAt = { $gt: query.completedAfter };
      const [document] = await this.jobs.find(filter).sort({ completedAt: -1, _id: -1 }).limit(1).toArray();
      return document === undefined ? undefined : fromDocument(document);
    });
  }

  /**
   * The emulator has no update operator that removes array elements ($pull,
   * $pop, pipeline updates), so only an outbox emptied whole can be written
   * without first reading it. That is what the relay asks for (it clears up
   * to the last event it appended), so the first write tries exactly that,
   * for every clearance at once: one round trip when each job named ends
   * with an empty outbox. Anything else (a partial clearance, a changed etag,
   * a missing job) costs one read of the outboxes, then one bulk write of
   * what is left to clear. One updateMany rather than a bulk write of
   * updateOne: the emulator scans the collection once per operation.
   */
  clearPendingEvents(clearances: readonly PendingEventsClearance[]): Promise<void> {
    return this.guard(async () => {
      if (clearances.length === 0) return;
      const jobIds = [...new Set(clearances.map(({ jobId }) => jobId))];
      const { matchedCount } = await this.jobs.updateMany(
        {
          _id: { $in: jobIds },
          // Each clearance: its record under its etag, with some event and none after upToSeq.
          $or: clearances.map(({ jobId, etag, upToSeq }) => ({
            _id: jobId,
            etag,
            hasPendingEvents: true,
            $nor: [{ 'pendingEvents.seq': { $gt: upToSeq } }],
          })),
        },
        { $unset: { pendingEvents: '', hasPendingEvents: '' } },
      );
      // Every job named has an empty outbox now, which leaves nothing for any clearance to remove.
      if (matchedCount < jobIds.length) await this.clearPendingEventsPartly(jobIds, clearances);
    });
  }

  /**
   * Reads the outboxes, then writes what each keeps. The write is guarded by
   * the etag and the first event read: under one etag an outbox only loses
   * its oldest events, so a concurrent clearance in between shows there and
   * the write yields to it rather than put back events it removed.
   */
  private async clearPendingEventsPartly(jobIds: string[], clearances: readonly PendingEventsClearance[]): Promise<void> {
    const outboxes = await this.jobs
      .aggregate<Pick<JobDocument, '_id' | 'etag'> & { pendingEvents: ProvenanceEvent[] }>([
        { $match: { _id: { $in: jobIds }, hasPendingEvents: true } },
        { $project: { _id: 1, etag: 1, pendingEvents: 1 } },
      ])
      .toArray();
    const stored = new Map(outboxes.map((outbox) => [outbox._id, outbox]));
    const kept = new Map<string, ProvenanceEvent[]>();
    for (const { jobId, etag, upToSeq } of clearances) {
      const outbox = stored.get(jobId);
      if (outbox?.etag !== etag) continue;
      const events = kept.get(jobId) ?? outbox.pendingEvents;
      kept.set(jobId, events.filter((event) => event.seq > upToSeq));
    }
    const writes: AnyBulkWriteOperation<JobDocument>[] = [];
    for (const [jobId, events] of kept) {
      const { etag, pendingEvents } = stored.get(jobId)!;
      if (events.length === pendingEvents.length) continue;
      const filter = { _id: jobId, etag, 'pendingEvents.0.seq': pendingEvents[0]!.seq };
      const update: UpdateFilter<JobDocument> =
        events.length === 0 ? { $unset: { pendingEvents: '', hasPendingEvents: '' } } : { $set: { pendingEvents: events } };
      writes.push({ updateOne: { filter, update } });
    }
    if (writes.length > 0) await this.jobs.bulkWrite(writes, { ordered: false });
  }

  listWithPendingEvents(limit: number, afterJobId?: string): Promise<JobRecord[]> {
    return this.guard(async () => {
      if (limit <= 0) return [];
      const filter: Filter<JobDocument> = { hasPendingEvents: true };
      if (afterJobId !== undefined) filter._id = { $gt: afterJobId };
      const documents = await this.jobs.find(filter).sort({ _id: 1 }).limit(limit).toArray();
      return documents.map(fromDocument);
    });
  }

  listByStatus(query: StatusQuery): Promise<JobRecord[]> {
    return this.guard(async () => {
      if (query.limit <= 0 || query.statuses.length === 0) return [];
      const filter: Filter<JobDocument> = { origin: query.origin, status: { $in: [...query.statuses] } };
      if (query.afterJobId !== undefined) filter._id = { $gt: query.afterJobId };
      const documents = await this.jobs.find(filter).sort({ _id: 1 }).limit(query.limit).toArray();
      return documents.map(fromDocument);
    });
  }

  /** The stored etag of each of those ids that exists. An aggregate, because the emulator ignores find() projections. */
  private async storedEtags(jobIds: readonly string[]): Promise<Map<string, string>> {
    const stored = await this.jobs
      .aggregate<Pick<JobDocument, '_id' | 'etag'>>([{ $match: { _id: { $in: [...jobIds] } } }, { $project: { _id: 1, etag: 1 } }])
      .toArray();
    return new Map(stored.map((document) => [document._id, document.etag]));
  }

  getJobs(jobIds: readonly string[]): Promise<JobRecord[]> {
    return this.guard(async () => {
      if (jobIds.length === 0) return [];
      const documents = await this.jobs.find({ _id: { $in: [...jobIds] } }).toArray();
      return documents.map(fromDocument);
    });
  }

  getAccess(jobIds: readonly string[]): Promise<JobAccess[]> {
    return this.guard(async () => {
      if (jobIds.length === 0) return [];
      const documents = await this.jobs.find({ _id: { $in: [...jobIds] } }, { projection: { _id: 1, tenant: 1, readers: 1 } }).toArray();
      return documents.map((document) => ({ jobId: document._id, tenant: document.tenant, readers: document.readers }));
    });
  }

  findByRequestIds(tenant: string, requestIds: readonly string[]): Promise<JobRecord[]> {
    return this.guard(async () => {
      if (requestIds.length === 0) return [];
      const documents = await this.jobs.find({ tenant, requestId: { $in: [...requestIds] } }).toArray();
      return documents.map(fromDocument);
    });
  }

  findReferencedIds(jobIds: readonly string[]): Promise<string[]> {
    return this.guard(async () => {
      if (jobIds.length === 0) return [];
      const referenced = new Set(await this.jobs.distinct('parentIds', { parentIds: { $in: [...jobIds] } }));
      return [...new Set(jobIds)].filter((id) => referenced.has(id));
    });
  }

  listJobs(query: ListJobsQuery): Promise<JobRecord[]> {
    return this.guard(async () => {
      // MongoDB reads limit 0 as "no limit".
      if (query.limit <= 0) return [];
      const documents = await this.jobs
        .find(listFilter(query))
        .sort({ createdAt: -1, _id: -1 })
        .limit(query.limit)
        .toArray();
      return documents.map(fromDocument);
    });
  }

  listChildren(jobId: string, limit: number, afterJobId?: string): Promise<JobRecord[]> {
    return this.guard(async () => {
      if (limit <= 0) return [];
      const filter: Filter<JobDocument> = { parentIds: jobId };
      if (afterJobId !== undefined) filter._id = { $gt: afterJobId };
      const documents = await this.jobs.find(filter).sort({ _id: 1 }).limit(limit).toArray();
      return documents.map(fromDocument);
    });
  }

  lineage(query: LineageQuery): Promise<LineageRow[]> {
    return this.guard(async () => {
      if (query.maxDepth !== undefined && query.maxDepth < 1) return [];
      // The first reply carries as many jobs as fit in 16 MiB, so the ids view of tens of thousands of jobs is one round trip.
      const documents = await this.jobs.aggregate(lineagePipeline(query), { allowDiskUse: true, batchSize: LINEAGE_BATCH_SIZE }).toArray();
      // Only a cycle would lead back to the root, which the port excludes.
      return documents.filter((document) => document._id !== query.rootId).map((document) => lineageRow(document, query));
    });
  }

  /** Two queries: the rows (by _id), and the jobs naming one of them as a parent (by the parentIds index), ids and parents only. */
  lineageStep(jobIds: readonly string[]): Promise<LineageStepRow[]> {
    return this.guard(async () => {
      const ids = [...new Set(jobIds)];
      const [documents, children] = await Promise.all([
        this.jobs.find({ _id: { $in: ids } }, { projection: IDS_FIELDS }).toArray(),
        this.jobs.find({ parentIds: { $in: ids } }, { projection: { _id: 1, parentIds: 1 } }).toArray(),
      ]);
      const childIds = new Map(documents.map((document): [string, string[]] => [document._id, []]));
      for (const child of children) for (const parentId of child.parentIds) childIds.get(parentId)?.push(child._id);
      return documents.map((document) => ({ ...lineageRow(document, { projection: 'IDS' }), childIds: childIds.get(document._id)! }));
    });
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await this.watch.run(operation);
    } catch (error) {
      throw translateDriverError(error);
    }
  }
}

function requestKey(tenant: string, requestId: string): string {
  return JSON.stringify([tenant, requestId]);
}

function isDuplicateKeyError(error: unknown): error is MongoServerError {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

/**
 * A top-level $or of the reader's tenant and the records holding its grant,
 * each branch carrying every other condition, so that each is an index scan
 * in sort order ({tenant, createdAt, _id} and {readers, createdAt, _id}) and
 * the planner merges them (SORT_MERGE) instead of sorting what matched. A
 * record in both branches is returned once. The page position is a bound on
 * createdAt plus a $nor for the ties, which keeps createdAt an index bound.
 */
function listFilter(query: ListJobsQuery): Filter<JobDocument> {
  const { filter } = query;
  const conditions: Document = {};
  if (filter.type !== undefined) conditions.type = filter.type;
  if (filter.status !== undefined) conditions.status = filter.status;
  if (filter.providerId !== undefined) conditions['provider.id'] = filter.providerId;
  if (filter.providerModel !== undefined) conditions['provider.model'] = filter.providerModel;
  if (filter.providerVersion !== undefined) conditions['provider.version'] = filter.providerVersion;
  if (filter.definitionHash !== undefined) conditions.definitionHash = filter.definitionHash;
  // Label keys are limited to [a-z0-9_-], so they are safe in a field path.
  for (const [key, value] of Object.entries(filter.labels ?? {})) conditions[`labels.${key}`] = value;
  const range: Document = {};
  if (filter.createdAt?.gt) range.$gt = filter.createdAt.gt;
  if (filter.createdAt?.gte) range.$gte = filter.createdAt.gte;
  if (filter.createdAt?.lt) range.$lt = filter.createdAt.lt;
  if (filter.createdAt?.lte) range.$lte = filter.createdAt.lte;
  if (query.after) {
    const { createdAt, jobId } = query.after;
    if (range.$lte === undefined || createdAt < range.$lte) range.$lte = createdAt;
    conditions.$nor = [{ createdAt, _id: { $gte: jobId } }];
  }
  if (Object.keys(range).length > 0) conditions.createdAt = range;
  const { tenant, grant } = query.reader;
  if (grant === undefined) return { tenant, ...conditions } as Filter<JobDocument>;
  return { $or: [{ tenant, ...conditions }, { readers: grant, ...conditions }] } as Filter<JobDocument>;
}

const IDS_FIELDS = { _id: 1, parentIds: 1, tenant: 1, readers: 1 } as const;
const SUMMARY_FIELDS = { ...IDS_FIELDS, type: 1, status: 1, cacheState: 1 } as const;

/**
 * One aggregate per direction. $unwind right after $graphLookup lets MongoDB
 * stream the found jobs instead of holding them in one 16 MiB document. The
 * port counts maxDepth in edges; $graphLookup counts the recursion steps
 * after the first hop, hence maxDepth - 1.
 */
function lineagePipeline(query: LineageQuery): Document[] {
  const depthLimit = query.maxDepth === undefined ? {} : { maxDepth: query.maxDepth - 1 };
  const search: Document[] =
    query.direction === 'ANCESTORS'
      ? [
          { $match: { _id: query.rootId } },
          {
            $graphLookup: {
              from: COLLECTION,
              startWith: '$parentIds',
              connectFromField: 'parentIds',
              connectToField: '_id',
              as: 'lineage',
              ...depthLimit,
            },
          },
        ]
      : [
          // The root need not exist: any one document carries the search, started from a constant.
          // A plain array, since the emulator takes no $literal there; job ids never start with '$'
          // (JOB_ID_PATTERN), so MongoDB cannot read the id as a field path.
          { $limit: 1 },
          {
            $graphLookup: {
              from: COLLECTION,
              startWith: [query.rootId],
              connectFromField: '_id',
              connectToField: 'parentIds',
              as: 'lineage',
              ...depthLimit,
            },
          },
        ];
  const pipeline: Document[] = [...search, { $unwind: '$lineage' }, { $replaceRoot: { newRoot: '$lineage' } }];
  if (query.projection !== 'FULL') pipeline.push({ $project: query.projection === 'IDS' ? IDS_FIELDS : SUMMARY_FIELDS });
  return pipeline;
}

function lineageRow(document: Document, query: Pick<LineageQuery, 'projection'>): LineageRow {
  const row: LineageRow = {
    jobId: document._id as string,
    parentIds: document.parentIds as string[],
    tenant: document.tenant as string,
    readers: document.readers as string[],
  };
  if (query.projection === 'IDS') return row;
  row.type = document.type as JobDocument['type'];
  row.status = document.status as JobDocument['status'];
  row.cacheState = document.cacheState as JobDocument['cacheState'];
  if (query.projection === 'FULL') row.record = fromDocument(document as JobDocument);
  return row;
}
