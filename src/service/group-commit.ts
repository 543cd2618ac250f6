import type { JobRecord } from '../domain/job.js';
import type { InsertOutcome } from '../domain/ports/provenance-store.js';
import type { RelayingStore } from './event-stream/publishing-store.js';
import { TurnBatches } from './turn-batches.js';

/** A record to insert, and whether the server generated its id (InsertOptions.generatedIds). */
interface NewRecord {
  record: JobRecord;
  generatedId: boolean;
}

/**
 * The most records one batched store call carries: a transaction holds the
 * SQLite write lock, and the event loop, while it runs. As many as a
 * BatchRecordJobs call of the default PROVENANCE_BATCH_SIZE, so that one
 * such call is still one transaction.
 */
const MAX_BATCH = 1000;

/**
 * Group commit for the writes of concurrent calls (a recorded or submitted
 * job's insert, a run's claim and outcome): writes asked for in the same
 * turn of the event loop go to the store together, in one insertJobs or
 * replaceJobs call. That is one transaction, one relay of their events to
 * the log and one clearance of their outboxes for the whole batch, instead
 * of one of each per call, which is what concurrent RecordJob and SubmitJob
 * calls and deliveries would otherwise cost. Each caller still gets its own
 * outcome; a store call that fails fails every write of its batch.
 */
export interface GroupCommit {
  /** insertJobs of one record, batched; generatedId: the server generated its id (InsertOptions.generatedIds). */
  insert(record: JobRecord, generatedId: boolean): Promise<InsertOutcome>;
  /** insertJobs of several records, batched, in order; they share one transaction unless the batch fills up. */
  insertAll(records: readonly JobRecord[], generatedIds: ReadonlySet<string>): Promise<InsertOutcome[]>;
  /** replaceJob, batched. */
  replace(record: JobRecord, expectedEtag: string): Promise<boolean>;
  /** replaceJob, batched, resolving before the events are relayed (RelayingStore.replaceJobsRelayingLater): a worker's claim. */
  claim(record: JobRecord, expectedEtag: string): Promise<boolean>;
}

const writesByStore = new WeakMap<RelayingStore, GroupCommit>();

/** The batches of that store, shared by every use case of the process that writes through it. */
export function groupCommit(store: RelayingStore): GroupCommit {
  let writes = writesByStore.get(store);
  if (!writes) {
    const inserts = new TurnBatches<NewRecord, InsertOutcome>(
      (batch) =>
        store.insertJobs(
          batch.map((item) => item.record),
          { generatedIds: new Set(batch.flatMap((item) => (item.generatedId ? [item.record.jobId] : []))) },
        ),
      MAX_BATCH,
    );
    const replacements = new TurnBatches<{ record: JobRecord; expectedEtag: string }, boolean>((batch) => store.replaceJobs(batch), MAX_BATCH);
    const claims = new TurnBatches<{ record: JobRecord; expectedEtag: string }, boolean>((batch) => store.replaceJobsRelayingLater(batch), MAX_BATCH);
    writes = {
      insert: (record, generatedId) => inserts.add(record.jobId, { record, generatedId }),
      insertAll: (records, generatedIds) =>
        Promise.all(records.map((record) => inserts.add(record.jobId, { record, generatedId: generatedIds.has(record.jobId) }))),
      replace: (record, expectedEtag) => replacements.add(record.jobId, { record, expectedEtag }),
      claim: (record, expectedEtag) => claims.add(record.jobId, { record, expectedEtag }),
    };
    writesByStore.set(store, writes);
  }
  return writes;
}
