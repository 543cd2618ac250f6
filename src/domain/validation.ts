import { PLACEHOLDER_PREFIX, isReaderGrant } from './access.js';
import type { RecordJobCommand, SetReaderSubjectsCommand, SubmitJobCommand } from './commands.js';
import { CACHE_SALT_RULE, isValidCacheSalt } from './cache-salt.js';
import type { FieldViolation } from './errors.js';
import { canonicalJson, findNonFiniteNumber, outputHash } from './hashing.js';
import { isValidJobId } from './ids.js';
import type { JsonValue } from './json.js';
import type { SecretKeyMatcher } from './redaction.js';

/** Limits that bound what one request may ask for; they come from configuration. */
export interface ServiceLimits {
  maxLineageDepth: number;
  maxLineageNodes: number;
  /** The most nodes one StreamLineage stream sends (PROVENANCE_MAX_STREAM_LINEAGE_NODES). */
  maxStreamLineageNodes: number;
  batchSize: number;
  /** The most parents one job may name (PROVENANCE_MAX_PARENTS). */
  maxParents: number;
  /** The most parents all the records of one BatchRecordJobs may name together (PROVENANCE_MAX_BATCH_PARENTS). */
  maxBatchParents: number;
  maxPayloadBytes: number;
  volatileKeys: ReadonlySet<string>;
  /** Which payload and metadata keys hold secrets (PROVENANCE_REDACT_KEYS). */
  isSecretKey: SecretKeyMatcher;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
const MAX_LABELS = 64;
/** The most job ids one WatchEvents call may follow (its job_ids filter); lineage_of follows a whole subgraph. */
export const MAX_WATCHED_JOB_IDS = 1000;
const MAX_READERS = 100;
const TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9._:/-]{0,127}$/;
const LABEL_KEY_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
const PRINTABLE_TOKEN = /^[\x21-\x7e]+$/;
const JOB_ID_RULE = "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit";
const PLACEHOLDER_RULE = `must not start with "${PLACEHOLDER_PREFIX}": the ids of jobs a caller may not read are shown so`;
/** The longest field path a violation names: a record's answer must not echo its request's keys at any length. */
const MAX_FIELD_PATH = 256;
/** Below MongoDB's limit of 100 nested levels per document, so that every store takes what one accepts. */
export const MAX_JSON_DEPTH = 64;

/** 0001-01-01T00:00:00Z (Date.UTC reads years below 100 as 19xx). */
const MIN_TIMESTAMP_MS = -62_135_596_800_000;
const MAX_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Collects the violations of one request; field paths use the proto field names. */
export class Violations {
  readonly list: FieldViolation[] = [];

  /** A field path longer than MAX_FIELD_PATH (it names request keys: labels, JSON members) is cut, so that answers stay small. */
  add(field: string, description: string): void {
    this.list.push({ field: field.length > MAX_FIELD_PATH ? `${field.slice(0, MAX_FIELD_PATH - 1)}…` : field, description });
  }

  jobId(field: string, value: string | undefined, required: boolean): void {
    if (value === undefined) {
      if (required) this.add(field, 'required');
    } else if (!isValidJobId(value)) {
      this.add(field, JOB_ID_RULE);
    }
  }

  /** A job id a request may give a job it makes, or name in a record it writes (optional): a valid one, that no placeholder could be (PLACEHOLDER_PREFIX). */
  newJobId(field: string, value: string | undefined): void {
    this.jobId(field, value, false);
    if (value?.startsWith(PLACEHOLDER_PREFIX)) this.add(field, PLACEHOLDER_RULE);
  }

  type(field: string, value: string): void {
    if (!value) this.add(field, 'required');
    else if (!TYPE_PATTERN.test(value)) this.add(field, "must be 1 to 128 characters: a letter, then letters, digits, '.', '_', ':', '/' or '-'");
  }

  /**
   * Parent job ids: at most maxParents, each valid, none named twice
   * (duplicates are refused, not merged: the record keeps the parents as
   * given). Too many are refused without reading one; otherwise the first
   * bad id and the first duplicate are reported, each with how many more
   * there are, so that a refusal costs at most one pass and two violations.
   */
  parents(field: string, parentIds: readonly string[], maxParents: number): void {
    if (parentIds.length > maxParents) {
      this.add(field, `at most ${maxParents} parents (PROVENANCE_MAX_PARENTS); got ${parentIds.length}`);
      return;
    }
    const firstIndex = new Map<string, number>();
    let invalid: { index: number; count: number } | undefined;
    let duplicate: { index: number; of: number; id: string; count: number } | undefined;
    let placeholder: number | undefined;
    parentIds.forEach((id, index) => {
      if (!isValidJobId(id)) {
        invalid = invalid ? { ...invalid, count: invalid.count + 1 } : { index, count: 1 };
        return;
      }
      // A parent named by a placeholder's id could only be a made-up one, which would pass for the hidden job (newJobId).
      if (id.startsWith(PLACEHOLDER_PREFIX)) placeholder ??= index;
      const of = firstIndex.get(id);
      if (of === undefined) firstIndex.set(id, index);
      else duplicate = duplicate ? { ...duplicate, count: duplicate.count + 1 } : { index, of, id, count: 1 };
    });
    if (invalid) this.add(`${field}[${invalid.index}]`, JOB_ID_RULE + moreLikeIt(invalid.count, 'bad parent id'));
    if (placeholder !== undefined) this.add(`${field}[${placeholder}]`, PLACEHOLDER_RULE);
    if (duplicate) {
      this.add(`${field}[${duplicate.index}]`, `duplicate of ${field}[${duplicate.of}] (${duplicate.id}); parents must be distinct${moreLikeIt(duplicate.count, 'duplicate')}`);
    }
  }

  maxLength(field: string, value: string | undefined, max: number): void {
    if (value !== undefined && value.length > max) this.add(field, `must be at most ${max} characters`);
  }

  cacheSalt(field: string, value: string | undefined): void {
    if (value !== undefined && !isValidCacheSalt(value)) this.add(field, CACHE_SALT_RULE);
  }

  printableToken(field: string, value: string | undefined, max: number): void {
    if (value === undefined) return;
    if (value.length > max || !PRINTABLE_TOKEN.test(value)) {
      this.add(field, `must be 1 to ${max} printable ASCII characters without spaces`);
    }
  }

  time(field: string, value: Date | undefined): void {
    if (value !== undefined && Number.isNaN(value.getTime())) this.add(field, 'is not a valid time');
  }

  /** A google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
  timestamp(field: string, value: Date | undefined): void {
    if (value === undefined) return;
    const ms = value.getTime();
    if (Number.isNaN(ms) || ms < MIN_TIMESTAMP_MS || ms > MAX_TIMESTAMP_MS) this.add(field, 'must be a valid time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z');
  }

  nonNegative(field: string, value: number): void {
    if (value < 0) this.add(field, 'must not be negative');
  }

  /** Checks that a JSON value has finite numbers only and that its canonical form fits maxBytes. */
  json(field: string, value: JsonValue | undefined, maxBytes: number): void {
    if (value === undefined) return;
    const nonFinite = findNonFiniteNumber(value, field);
    if (nonFinite) {
      this.add(nonFinite, 'must be a finite number');
      return;
    }
    if (nestingDepth(value) > MAX_JSON_DEPTH) {
      this.add(field, `nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`);
      return;
    }
    const bytes = Buffer.byteLength(canonicalJson(value), 'utf8');
    if (bytes > maxBytes) this.add(field, `is ${bytes} bytes as canonical JSON; the limit is ${maxBytes}`);
  }
}

/** The end of a violation that stands for count problems of one kind: how many there are, when more than one. */
function moreLikeIt(count: number, kind: string): string {
  return count > 1 ? ` (${count} ${kind}s in all; the first is reported)` : '';
}

function nestingDepth(value: JsonValue): number {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  for (const item of Array.isArray(value) ? value : Object.values(value)) deepest = Math.max(deepest, nestingDepth(item));
  return deepest + 1;
}

/** Page size 0 means the default; larger than the maximum is capped (AIP-158). */
export function effectivePageSize(pageSize: number): number {
  return pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
}

/**
 * What bounds a BatchRecordJobs as a whole, checked before any record is:
 * the number of records, and the parents they name together (each parent is
 * looked up and hashed into its child's input hash). Reads no parent id.
 */
export function validateBatch(commands: readonly Pick<RecordJobCommand, 'parentIds'>[], limits: ServiceLimits): FieldViolation[] {
  if (commands.length > limits.batchSize) {
    return [{ field: 'requests', description: `at most ${limits.batchSize} records per batch (PROVENANCE_BATCH_SIZE); got ${commands.length}` }];
  }
  const parents = commands.reduce((sum, command) => sum + command.parentIds.length, 0);
  // One record (RecordJob) is left to PROVENANCE_MAX_PARENTS, which is at most this, so that the violation names its field.
  if (commands.length > 1 && parents > limits.maxBatchParents) {
    return [{ field: 'requests', description: `at most ${limits.maxBatchParents} parents in all the records of a batch (PROVENANCE_MAX_BATCH_PARENTS); got ${parents}` }];
  }
  return [];
}

export function validateRecordJob(command: RecordJobCommand, limits: ServiceLimits): FieldViolation[] {
  const v = new Violations();
  v.newJobId('job_id', command.jobId);
  v.printableToken('etag', command.etag, 128);
  validateDefinition(v, command, limits);
  v.nonNegative('attempt', command.attempt);
  validateOutcome(v, command, limits);
  return v.list;
}

export function validateSubmitJob(command: SubmitJobCommand, limits: ServiceLimits): FieldViolation[] {
  const v = new Violations();
  v.newJobId('job_id', command.jobId);
  validateDefinition(v, command, limits);
  if (command.cachePolicy === 'INVALID') v.add('cache_policy', 'unknown cache policy');
  return v.list;
}

/** What RecordJob and SubmitJob share: the job's definition, parents, labels, readers and idempotency key. */
function validateDefinition(v: Violations, command: RecordJobCommand | SubmitJobCommand, limits: ServiceLimits): void {
  v.printableToken('request_id', command.requestId, 128);
  v.cacheSalt('cache_salt', command.cacheSalt);
  v.type('type', command.type);
  v.json('payload', command.payload, limits.maxPayloadBytes);
  v.json('metadata', command.metadata, limits.maxPayloadBytes);
  v.maxLength('provider.id', command.provider.id, 256);
  v.maxLength('provider.model', command.provider.model, 256);
  v.maxLength('provider.version', command.provider.version, 256);
  v.parents('parent_job_ids', command.parentIds, limits.maxParents);
  validateLabels(v, command.labels);
  validateReaders(v, command.readers);
}

export function validateSetReaderSubjects(command: SetReaderSubjectsCommand): FieldViolation[] {
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  // The list is the job's grants as they will be stored: a repeat would be stored too.
  validateReaders(v, command.readers, { distinct: true });
  v.printableToken('etag', command.etag, 128);
  return v.list;
}

/** Too many labels or readers are refused as a whole, so that the violations of one record stay few. */
function validateReaders(v: Violations, readers: readonly string[], { distinct = false } = {}): void {
  if (readers.length > MAX_READERS) {
    v.add('reader_subjects', `at most ${MAX_READERS} subjects`);
    return;
  }
  const firstIndex = new Map<string, number>();
  readers.forEach((reader, i) => {
    const earlier = firstIndex.get(reader);
    if (!reader || reader.length > 256) v.add(`reader_subjects[${i}]`, 'must be 1 to 256 characters');
    else if (!isReaderGrant(reader)) v.add(`reader_subjects[${i}]`, 'must name a tenant and a subject as "tenant/subject"');
    else if (distinct && earlier !== undefined) v.add(`reader_subjects[${i}]`, `repeats reader_subjects[${earlier}]`);
    if (earlier === undefined) firstIndex.set(reader, i);
  });
}

export function validateLabels(v: Violations, labels: Readonly<Record<string, string>>): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    v.add('labels', `at most ${MAX_LABELS} labels`);
    return;
  }
  for (const [key, value] of entries) {
    const problems = [
      ...(LABEL_KEY_PATTERN.test(key) ? [] : ["key must be 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter"]),
      ...(value.length > 63 ? ['value must be at most 63 characters'] : []),
    ];
    if (problems.length > 0) v.add(`labels[${key}]`, problems.join('; '));
  }
}

/** Which outcome fields each status allows, and that given hashes agree with a given output. */
function validateOutcome(v: Violations, command: RecordJobCommand, limits: ServiceLimits): void {
  const { status } = command;
  if (status === undefined) {
    v.add('status', 'required');
    return;
  }
  if (status === 'INVALID') {
    v.add('status', 'unknown status');
    return;
  }
  v.time('start_time', command.startedAt);
  v.time('complete_time', command.completedAt);
  const live = status === 'QUEUED' || status === 'WAITING' || status === 'RUNNING';
  if ((status === 'QUEUED' || status === 'WAITING') && command.startedAt) v.add('start_time', `must be empty while ${status}`);
  if (live && command.completedAt) v.add('complete_time', `must be empty while ${status}`);
  if (command.startedAt && command.completedAt && command.completedAt < command.startedAt) {
    v.add('complete_time', 'must not be before start_time');
  }
  if (status !== 'SUCCEEDED') {
    if (command.output !== undefined) v.add('output', 'allowed only when status is SUCCEEDED');
    if (command.outputHash !== undefined) v.add('output_hash', 'allowed only when status is SUCCEEDED');
  }
  if (status !== 'FAILED' && status !== 'CANCELLED' && command.error) {
    v.add('error', 'allowed only when status is FAILED or CANCELLED');
  }
  if (command.error) {
    v.maxLength('error.reason', command.error.reason, 128);
    v.maxLength('error.message', command.error.message, 4096);
    v.newJobId('error.dependency_job_id', command.error.dependencyJobId);
  }
  if (status === 'SUCCEEDED') {
    v.printableToken('output_hash', command.outputHash, 256);
    const before = v.list.length;
    v.json('output', command.output, limits.maxPayloadBytes);
    if (command.output === undefined && command.outputHash === undefined) {
      v.add('output_hash', 'required when status is SUCCEEDED (or give output)');
    } else if (command.output !== undefined && v.list.length === before && command.outputHash !== undefined) {
      const computed = outputHash(command.output);
      if (computed !== command.outputHash) v.add('output_hash', `does not match output (its hash is ${computed})`);
    }
  }
}
