import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoServerError, type Collection, type Db } from 'mongodb';
import { unavailable } from '../../domain/errors.js';
import type { JobRecord } from '../../domain/job.js';
import type { InsertOutcome } from '../../domain/ports/provenance-store.js';
import type { OperationWatch } from './operation-watch.js';
import { fromDocument, toDocument, type JobDocument } from './documents.js';

const GUARD_COLLECTION = 'insertTurns';
const INTENT_COLLECTION = 'insertIntents';
const GUARD_ID = 'lineage';
const DUPLICATE_KEY = 11000;
/** The most a writer waits, at random, after another took the turn it tried for: enough to let the winner's writes pass. */
const MAX_PAUSE_MS = 5;

/**
 * The one guard document: the number of the last turn taken, and the
 * intents that turn decided to insert while it is open (null once they are
 * all stored).
 */
interface GuardDocument {
  _id: string;
  turn: number;
  open: { intentIds: string[] } | null;
}

/** A record some turn may decide to insert, stored before the turn is taken, so that anyone can finish the turn's inserts. */
interface IntentDocument {
  _id: string;
  record: JobDocument;
}

/** What a turn decided for each record: an outcome (not written), or undefined: write it. */
export type Decision = InsertOutcome | undefined;

/**
 * Checked inserts on MongoDB, one at a time across every process of the
 * database, using only single-document atomic writes (a standalone server
 * has no transactions, and the emulator's transactions do not detect write
 * conflicts). A batch stores its records as intents, then in a loop: reads
 * the guard document (finishing the open turn first, whoever took it),
 * decides against what is stored, and takes the next turn with a
 * compare-and-set on the guard naming the intents to insert. The turn's
 * inserts are then done by the batch, or by whichever batch comes next if
 * it is slow or died, and only then is the turn closed. So each decision
 * sees every record decided in an earlier turn already stored: the
 * decisions are serialized, though each is made outside any lock and no
 * lease can expire under a paused process. Intents are deleted only once
 * the turn holding them is closed, so a late copy of an insert can only
 * repeat one already done.
 */
export class InsertTurns {
  /** The batches of this process wait for each other here rather than make each other retry. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly guard: Collection<GuardDocument>,
    private readonly intents: Collection<IntentDocument>,
    private readonly timeoutMs: number,
    private readonly watch: OperationWatch,
  ) {}

  /**
   * Creates the guard document unless it exists. timeoutMs: how long a batch
   * may wait for its turn before UNAVAILABLE. watch: bounds each turn, so that
   * one held forever by a dead connection does not hold the batches queued
   * behind it (operation-watch.ts).
   */
  static async open(db: Db, timeoutMs: number, watch: OperationWatch): Promise<InsertTurns> {
    const guard = db.collection<GuardDocument>(GUARD_COLLECTION);
    try {
      await guard.insertOne({ _id: GUARD_ID, turn: 0, open: null });
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
    }
    return new InsertTurns(guard, db.collection<IntentDocument>(INTENT_COLLECTION), timeoutMs, watch);
  }

  /**
   * Decides and writes records in a turn of their own. decide sees what is
   * stored once every earlier turn's records are; write must be idempotent
   * (it may run again, or in another process, for the same records) and
   * report, for each record, whether it is stored as given.
   */
  run(
    records: readonly JobRecord[],
    decide: (records: readonly JobRecord[]) => Promise<Decision[]>,
    write: (records: readonly JobRecord[]) => Promise<InsertOutcome[]>,
  ): Promise<InsertOutcome[]> {
    const turn = this.queue.then(() => this.watch.run(() => this.takeTurn(records, decide, write)));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async takeTurn(
    records: readonly JobRecord[],
    decide: (records: readonly JobRecord[]) => Promise<Decision[]>,
    write: (records: readonly JobRecord[]) => Promise<InsertOutcome[]>,
  ): Promise<InsertOutcome[]> {
    const token = randomUUID();
    const intentIds = records.map((_, index) => `${token}:${index}`);
    // Written while the turn is waited for and the records decided: only taking the turn, which names them, needs them stored.
    const intentsWritten = this.intents.insertMany(records.map((record, index) => ({ _id: intentIds[index]!, record: toDocument(record) })));
    intentsWritten.catch(() => undefined);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const turn = await this.closedTurn(write);
      const decisions = await decide(records);
      const toWrite = records.flatMap((record, index) => (decisions[index] === undefined ? [{ record, index }] : []));
      await intentsWritten;
      if (toWrite.length === 0) {
        await this.intents.deleteMany({ _id: { $in: intentIds } });
        return decisions as InsertOutcome[];
      }
      const taken = await this.guard.updateOne(
        { _id: GUARD_ID, turn, open: null },
        { $set: { turn: turn + 1, open: { intentIds: toWrite.map(({ index }) => intentIds[index]!) } } },
      );
      if (taken.modifiedCount === 1) {
        const written = await this.finish(turn + 1, toWrite.map(({ record }) => record), write);
        // Only now: an error above leaves the intents to whoever finishes this turn.
        await this.intents.deleteMany({ _id: { $in: intentIds } });
        toWrite.forEach(({ index }, i) => (decisions[index] = written[i]!));
        return decisions as InsertOutcome[];
      }
      if (Date.now() >= deadline) {
        // Untaken turns leave nothing to finish: the intents can go.
        await this.intents.deleteMany({ _id: { $in: intentIds } });
        throw unavailable('the database is too busy with checked inserts; retry later');
      }
      await sleep(Math.random() * MAX_PAUSE_MS);
    }
  }

  /** The number of the last turn, once it is closed: an open one is finished here, from its intents. */
  private async closedTurn(write: (records: readonly JobRecord[]) => Promise<InsertOutcome[]>): Promise<number> {
    for (;;) {
      const guard = await this.guard.findOne({ _id: GUARD_ID });
      if (guard === null) throw new Error(`the ${GUARD_COLLECTION} guard document is missing`);
      if (guard.open === null) return guard.turn;
      const { intentIds } = guard.open;
      const found = new Map((await this.intents.find({ _id: { $in: intentIds } }).toArray()).map((intent) => [intent._id, intent.record]));
      const records = intentIds.flatMap((id) => (found.has(id) ? [fromDocument(found.get(id)!)] : []));
      await this.finish(guard.turn, records, write);
      await this.intents.deleteMany({ _id: { $in: intentIds } });
    }
  }

  /** Writes a turn's records, then closes the turn (a no-op if someone else closed it already). */
  private async finish(turn: number, records: readonly JobRecord[], write: (records: readonly JobRecord[]) => Promise<InsertOutcome[]>): Promise<InsertOutcome[]> {
    const outcomes = records.length > 0 ? await write(records) : [];
    await this.guard.updateOne({ _id: GUARD_ID, turn }, { $set: { open: null } });
    return outcomes;
  }
}
