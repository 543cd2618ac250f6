import type { CacheState, JobError, JobOrigin, JobRecord, JobResult, JobStatus, Provider } from '../../domain/job.js';
import type { JsonObject, JsonValue } from '../../domain/json.js';

/** A provenance record as the `jobs` collection holds it. */
export interface JobDocument {
  _id: string;
  type: string;
  /** Client JSON, with its object keys escaped (see escapeKeys). */
  payload: JsonObject;
  definitionHash: string;
  inputHash: string;
  provider: Provider;
  parentIds: string[];
  status: JobStatus;
  cacheState: CacheState;
  result?: JobResult;
  error?: JobError;
  createdAt: Date;
  startedAt?: Date;
  completedAt?: Date;
  updatedAt: Date;
  durationMs?: number;
  attempt: number;
  rerunOfJobId?: string;
  labels: Record<string, string>;
  metadata: JsonObject;
  tenant: string;
  owner: string;
  readers: string[];
  etag: string;
  origin: JobOrigin;
  payloadRedacted: boolean;
  requestId?: string;
  requestHash: string;
}

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
    const name = rename(key);
    const renamedItem = renameKeys(item, rename);
    // Assigning "__proto__" would set the prototype instead of adding the key.
    if (name === '__proto__') {
      Object.defineProperty(renamed, name, { value: renamedItem, enumerable: true, writable: true, configurable: true });
    } else {
      renamed[name] = renamedItem;
    }
  }
  return renamed;
}

export function toDocument(record: JobRecord): JobDocument {
  const document: JobDocument = {
    _id: record.jobId,
    type: record.type,
    payload: escapeKeys(record.payload),
    definitionHash: record.definitionHash,
    inputHash: record.inputHash,
    provider: { id: record.provider.id, model: record.provider.model, version: record.provider.version },
    parentIds: [...record.parentIds],
    status: record.status,
    cacheState: record.cacheState,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    attempt: record.attempt,
    labels: { ...record.labels },
    metadata: escapeKeys(record.metadata),
    tenant: record.tenant,
    owner: record.owner,
    readers: [...record.readers],
    etag: record.etag,
    origin: record.origin,
    payloadRedacted: record.payloadRedacted,
    requestHash: record.requestHash,
  };
  if (record.result) document.result = mapResult(record.result, escapeKeys);
  if (record.error) document.error = copyError(record.error);
  if (record.startedAt) document.startedAt = record.startedAt;
  if (record.completedAt) document.completedAt = record.completedAt;
  if (record.durationMs !== undefined) document.durationMs = record.durationMs;
  if (record.rerunOfJobId !== undefined) document.rerunOfJobId = record.rerunOfJobId;
  if (record.requestId !== undefined) document.requestId = record.requestId;
  return document;
}

/** The record a document holds; fields the document lacks stay absent. */
export function fromDocument(document: JobDocument): JobRecord {
  const record: JobRecord = {
    jobId: document._id,
    type: document.type,
    payload: unescapeKeys(document.payload),
    definitionHash: document.definitionHash,
    inputHash: document.inputHash,
    provider: { id: document.provider.id, model: document.provider.model, version: document.provider.version },
    parentIds: document.parentIds,
    status: document.status,
    cacheState: document.cacheState,
    createdAt: document.createdAt,
    updatedAt: document.updatedAt,
    attempt: document.attempt,
    labels: document.labels,
    metadata: unescapeKeys(document.metadata),
    tenant: document.tenant,
    owner: document.owner,
    readers: document.readers,
    etag: document.etag,
    origin: document.origin,
    payloadRedacted: document.payloadRedacted,
    requestHash: document.requestHash,
  };
  if (document.result) record.result = mapResult(document.result, unescapeKeys);
  if (document.error) record.error = copyError(document.error);
  if (document.startedAt) record.startedAt = document.startedAt;
  if (document.completedAt) record.completedAt = document.completedAt;
  if (document.durationMs !== undefined) record.durationMs = document.durationMs;
  if (document.rerunOfJobId !== undefined) record.rerunOfJobId = document.rerunOfJobId;
  if (document.requestId !== undefined) record.requestId = document.requestId;
  return record;
}

function mapResult(result: JobResult, mapOutput: (output: JsonValue) => JsonValue): JobResult {
  const mapped: JobResult = { outputHash: result.outputHash, cached: result.cached };
  if (result.output !== undefined) mapped.output = mapOutput(result.output);
  if (result.cachedFromJobId !== undefined) mapped.cachedFromJobId = result.cachedFromJobId;
  return mapped;
}

function copyError(error: JobError): JobError {
  const copy: JobError = { reason: error.reason, message: error.message };
  if (error.dependencyJobId !== undefined) copy.dependencyJobId = error.dependencyJobId;
  return copy;
}
