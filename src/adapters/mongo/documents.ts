import { cacheKeySalt } from '../../domain/cache-salt.js';
import type { JobRecord } from '../../domain/job.js';
import { setMember, type JsonObject, type JsonValue } from '../../domain/json.js';

/**
 * A provenance record as the `jobs` collection holds it: the record's own
 * fields, with jobId as _id and the keys of client JSON escaped (see
 * escapeKeys), plus hasPendingEvents, true exactly when the outbox
 * (pendingEvents) is not empty: the key of a partial index, so that the few
 * records with pending events are found without reading the others; and
 * cacheKeySalt (domain/cache-salt.ts), only when the record has salts: part
 * of the cache key index, absent (as in every document written before salts
 * existed) for the records without; and historyPending, set by every write
 * of the document and removed once the write's history entry is known to be
 * stored (MongoProvenanceStore.repairHistory): the key of a partial index
 * too. Absent optional fields are not stored (ignoreUndefined).
 */
export type JobDocument = Omit<JobRecord, 'jobId'> & { _id: string; hasPendingEvents?: true; cacheKeySalt?: string; historyPending?: true };

/*
 * Client JSON (payload, metadata, result.output) may use any object key, but
 * not every key survives BSON and MongoDB as is:
 * - a NUL character cannot be written at all (BSON keys are C strings);
 * - the driver turns a read subdocument with "$ref" and "$id" into a DBRef
 *   instance, and MongoDB validates "$ref", "$id" and "$db" as DBRef parts;
 * - '$' and '.' make keys ambiguous in query paths, and servers before 5.0
 *   refuse them.
 * So each of those characters, and '%' (the escape character itself), is
 * written as '%' and two hex digits. Keys without them, which are nearly all,
 * are stored unchanged, and the values stay queryable subdocuments.
 */
const ESCAPED_CHARACTERS = /[%$.\u0000]/g;
const ESCAPE_SEQUENCE = /%([0-9A-F]{2})/g;

export function escapeKeys<T extends JsonValue>(value: T): T {
  return renameKeys(value, (key) => key.replace(ESCAPED_CHARACTERS, escapeCharacter)) as T;
}

export function unescapeKeys<T extends JsonValue>(value: T): T {
  return renameKeys(value, (key) => key.replace(ESCAPE_SEQUENCE, unescapeSequence)) as T;
}

function escapeCharacter(character: string): string {
  return `%${character.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}

function unescapeSequence(_sequence: string, hex: string): string {
  return String.fromCharCode(parseInt(hex, 16));
}

function renameKeys(value: JsonValue, rename: (key: string) => string): JsonValue {
  if (Array.isArray(value)) return value.map((item) => renameKeys(item, rename));
  if (value === null || typeof value !== 'object') return value;
  const renamed: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    setMember(renamed, rename(key), renameKeys(item, rename));
  }
  return renamed;
}

export function toDocument(record: JobRecord): JobDocument {
  const { jobId, ...fields } = record;
  const document: JobDocument = mapClientJson({ _id: jobId, ...fields }, escapeKeys);
  if (hasPendingEvents(record)) document.hasPendingEvents = true;
  document.historyPending = true;
  const salt = cacheKeySalt(record);
  if (salt !== '') document.cacheKeySalt = salt;
  return document;
}

/** The record a document holds; fields the document lacks stay absent. */
export function fromDocument(document: JobDocument): JobRecord {
  const { _id, hasPendingEvents: _derived, cacheKeySalt: _derivedSalt, historyPending: _unconfirmed, ...fields } = document;
  return mapClientJson({ jobId: _id, ...fields }, unescapeKeys);
}

function hasPendingEvents(record: Pick<JobRecord, 'pendingEvents'>): boolean {
  return record.pendingEvents !== undefined && record.pendingEvents.length > 0;
}

function mapClientJson<T extends JobRecord | JobDocument>(value: T, map: <V extends JsonValue>(json: V) => V): T {
  const mapped = { ...value, payload: map(value.payload), metadata: map(value.metadata) };
  if (value.result?.output !== undefined) mapped.result = { ...value.result, output: map(value.result.output) };
  return mapped;
}
