import type { JobRecord } from '../../domain/job.js';
import { decodeOutbox, type StoredOutbox } from './outbox-json.js';

/**
 * The text form of a JobRecord in the `doc` column: its JSON, with Dates as
 * ISO 8601 strings (millisecond precision, as Date has), restored as Dates,
 * the times of pending events included; absent optional fields stay absent.
 * A stored outbox that a read attached (DOC_WITH_OUTBOX) becomes the
 * record's pending events.
 * JSON.stringify writes -0 as 0, while JSON.parse reads "-0" back as -0:
 * records holding a -0 (in a payload, metadata or output) go through a
 * slower writer that keeps it, so every number comes back as written.
 */
export function encodeRecord(record: JobRecord): string {
  return clientJsonHoldsNegativeZero(record) ? writeJson(record) : JSON.stringify(record);
}

/**
 * Only the JSON a client or a handler gives (payload, metadata, output) can
 * hold a -0: every other number of a record is a count, a sequence number
 * or a difference of two times. Walking only those skips the rest of the
 * record on every write.
 */
function clientJsonHoldsNegativeZero(record: JobRecord): boolean {
  return containsNegativeZero(record.payload) || containsNegativeZero(record.metadata) || containsNegativeZero(record.result?.output);
}

export function decodeRecord(text: string): JobRecord {
  const doc = JSON.parse(text) as Record<string, unknown>;
  for (const field of DATE_FIELDS) {
    if (doc[field] !== undefined) doc[field] = new Date(doc[field] as string);
  }
  const pendingEvents = doc.pendingEvents as Array<{ time: string | Date }> | StoredOutbox | undefined;
  if (Array.isArray(pendingEvents)) for (const event of pendingEvents) event.time = new Date(event.time);
  else if (pendingEvents !== undefined) doc.pendingEvents = decodeOutbox(pendingEvents);
  return doc as unknown as JobRecord;
}

const DATE_FIELDS = ['createdAt', 'updatedAt', 'startedAt', 'completedAt'] as const;

function containsNegativeZero(value: unknown): boolean {
  if (typeof value === 'number') return Object.is(value, -0);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(containsNegativeZero);
  return Object.values(value).some(containsNegativeZero);
}

/** JSON.stringify of JSON values and Dates, except that -0 is written as -0. */
function writeJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
  }
  if (value === null || value instanceof Date) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + writeJson(value[i]);
    return text + ']';
  }
  if (typeof value !== 'object') throw new TypeError(`${typeof value} has no JSON form`);
  let text = '{';
  let first = true;
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    text += (first ? '' : ',') + JSON.stringify(key) + ':' + writeJson(item);
    first = false;
  }
  return text + '}';
}

/**
 * A jobs row's document with its pending events, as the port's records carry
 * them: its job_outbox row, if any, says where its outbox is (schema.ts
 * version 9), attached as a StoredOutbox that decodeRecord expands. The
 * usual row has none: one probe of job_outbox's key, and the document as
 * stored.
 */
export const DOC_WITH_OUTBOX = `coalesce((
  SELECT json_set(jobs.doc, '$.pendingEvents', json_object('after', job_outbox.after_seq, 'events', outbox_writes.events -> job_outbox.entry))
  FROM job_outbox CROSS JOIN outbox_writes ON outbox_writes.write_id = job_outbox.write_id
  WHERE job_outbox.job_id = jobs.job_id), jobs.doc)`;
