import { randomBytes } from 'node:crypto';
import { MongoClient, type Collection, type Document, type Filter } from 'mongodb';
import type { AuditEntry, AuditLog, AuditQuery, StoredAuditEntry } from '../../domain/ports/audit-log.js';
import { connectCollection, DEFAULT_TIMEOUT_MS } from './connection.js';
import { translateDriverError } from './errors.js';
import { OperationWatch } from './operation-watch.js';

export interface MongoAuditLogOptions {
  uri: string;
  database: string;
  serverSelectionTimeoutMS?: number;
  appName?: string;
}

interface AuditDocument {
  _id: string;
  tenant: string;
  /** Only on an entry of another tenant's caller. */
  callerTenant?: string;
  subject: string;
  method: string;
  jobIds: string[];
  time: Date;
  outcome: string;
}

const COLLECTION = 'audit_events';

/** AuditLog on MongoDB: one document per entry in the `audit_events` collection, next to `jobs`. */
export class MongoAuditLog implements AuditLog {
  private closed = false;
  private readonly ids = new TimeOrderedIds();

  private constructor(
    private readonly client: MongoClient,
    private readonly events: Collection<AuditDocument>,
    private readonly watch: OperationWatch,
  ) {}

  /** Connects and creates the indexes (creating an existing index is a no-op). */
  static async connect(options: MongoAuditLogOptions): Promise<MongoAuditLog> {
    // Each ends with the page order (time, then _id, descending), so a page is read in index order without a sort stage.
    const { client, collection } = await connectCollection<AuditDocument>(options, COLLECTION, [
      { key: { tenant: 1, time: -1, _id: -1 } },
      { key: { tenant: 1, jobIds: 1, time: -1, _id: -1 } },
      { key: { tenant: 1, subject: 1, time: -1, _id: -1 } },
    ]);
    return new MongoAuditLog(client, collection, new OperationWatch(client, options.serverSelectionTimeoutMS ?? DEFAULT_TIMEOUT_MS));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  async append(entry: AuditEntry): Promise<void> {
    await this.guard(() =>
      this.events.insertOne({
        _id: this.ids.next(),
        tenant: entry.tenant,
        ...(entry.callerTenant === undefined ? {} : { callerTenant: entry.callerTenant }),
        subject: entry.subject,
        method: entry.method,
        jobIds: [...entry.jobIds],
        time: entry.time,
        outcome: entry.outcome,
      }),
    );
  }

  list(query: AuditQuery): Promise<StoredAuditEntry[]> {
    return this.guard(async () => {
      const documents = await this.events.find(listFilter(query)).sort({ time: -1, _id: -1 }).limit(query.limit).toArray();
      return documents.map(toStoredEntry);
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

function listFilter(query: AuditQuery): Filter<AuditDocument> {
  const conditions: Document = { tenant: query.tenant };
  if (query.subject !== undefined) conditions.subject = query.subject;
  // Equality on an array field matches documents whose array holds the value.
  if (query.jobId !== undefined) conditions.jobIds = query.jobId;
  if (query.time) {
    const range: Document = {};
    if (query.time.gt) range.$gt = query.time.gt;
    if (query.time.gte) range.$gte = query.time.gte;
    if (query.time.lt) range.$lt = query.time.lt;
    if (query.time.lte) range.$lte = query.time.lte;
    if (Object.keys(range).length > 0) conditions.time = range;
  }
  if (query.after) {
    const { time, id } = query.after;
    conditions.$or = [{ time: { $lt: time } }, { time, _id: { $lt: id } }];
  }
  return conditions as Filter<AuditDocument>;
}

function toStoredEntry(document: AuditDocument): StoredAuditEntry {
  return {
    id: document._id,
    subject: document.subject,
    tenant: document.tenant,
    ...(typeof document.callerTenant === 'string' ? { callerTenant: document.callerTenant } : {}),
    method: document.method,
    jobIds: document.jobIds,
    time: document.time,
    outcome: document.outcome,
  };
}

const MAX_COUNTER = 0xffffff;

/**
 * Ids that sort as strings in the order this instance made them, with no
 * round trip to the database: the clock in ms (12 hex digits), a counter
 * within that ms (6 hex digits), and a random tag of the instance (16 hex
 * digits). The clock part never goes back, even when the system clock does,
 * and moves on by itself if the counter of one ms runs out. Instances (one
 * per process) never make the same id thanks to the tag, and their ids
 * interleave by clock time. A counter document would order the ids of all
 * processes exactly, but every audited request would then update that one
 * document; the entries are ordered by their time first anyway, and ids
 * only break ties.
 */
class TimeOrderedIds {
  private readonly tag = randomBytes(8).toString('hex');
  private lastMs = 0;
  private counter = 0;

  next(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = 0;
    } else if (++this.counter > MAX_COUNTER) {
      this.lastMs++;
      this.counter = 0;
    }
    return `${this.lastMs.toString(16).padStart(12, '0')}${this.counter.toString(16).padStart(6, '0')}${this.tag}`;
  }
}
