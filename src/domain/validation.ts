import { isReaderGrant } from './access.js';
import type { RecordJobCommand, SubmitJobCommand } from './commands.js';
import type { FieldViolation } from './errors.js';
import { canonicalJson, findNonFiniteNumber, outputHash } from './hashing.js';
import { isValidJobId } from './ids.js';
import type { JsonValue } from './json.js';
import type { SecretKeyMatcher } from './redaction.js';

/** Limits that bound what one request may ask for; they come from configuration. */
export interface ServiceLimits {
  maxLineageDepth: number;
  maxLineageNodes: number;
  batchSize: number;
  maxPayloadBytes: number;
  volatileKeys: ReadonlySet<string>;
  /** Which payload and metadata keys hold secrets (PROVENANCE_REDACT_KEYS). */
  isSecretKey: SecretKeyMatcher;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
export const MAX_PARENTS = 1000;
const MAX_LABELS = 64;
const MAX_READERS = 100;
const TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9._:/-]{0,127}$/;
const LABEL_KEY_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
const PRINTABLE_TOKEN = /^[\x21-\x7e]+$/;
/** Below MongoDB's limit of 100 nested levels per document, so that every store takes what one accepts. */
export const MAX_JSON_DEPTH = 64;

/** Collects the violations of one request; field paths use the proto field names. */
export class Violations {
  readonly list: FieldViolation[] = [];

  add(field: string, description: string): void {
    this.list.push({ field, description });
  }

  jobId(field: string, value: string | undefined, required: boolean): void {
    if (value === undefined) {
      if (required) this.add(field, 'required');
    } else if (!isValidJobId(value)) {
      this.add(field, "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit");
    }
  }

  type(field: string, value: string): void {
    if (!value) this.add(field, 'required');
    else if (!TYPE_PATTERN.test(value)) this.add(field, "must be 1 to 128 characters: a letter, then letters, digits, '.', '_', ':', '/' or '-'");
  }

  /** Parent job ids: valid, distinct, at most MAX_PARENTS. */
  parents(field: string, parentIds: readonly string[]): void {
    if (parentIds.length > MAX_PARENTS) this.add(field, `at most ${MAX_PARENTS} parents`);
    const seen = new Set<string>();
    parentIds.forEach((id, i) => {
      this.jobId(`${field}[${i}]`, id, true);
      if (seen.has(id)) this.add(`${field}[${i}]`, `duplicate of an earlier parent (${id})`);
      seen.add(id);
    });
  }

  maxLength(field: string, value: string | undefined, max: number): void {
    if (value !== undefined && value.length > max) this.add(field, `must be at most ${max} characters`);
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

export function validateRecordJob(command: RecordJobCommand, limits: ServiceLimits): FieldViolation[] {
  const v = new Violations();
  v.jobId('job_id', command.jobId, false);
  v.printableToken('etag', command.etag, 128);
  validateDefinition(v, command, limits);
  v.nonNegative('attempt', command.attempt);
  validateOutcome(v, command, limits);
  return v.list;
}

export function validateSubmitJob(command: SubmitJobCommand, limits: ServiceLimits): FieldViolation[] {
  const v = new Violations();
  v.jobId('job_id', command.jobId, false);
  validateDefinition(v, command, limits);
  if (command.cachePolicy === 'INVALID') v.add('cache_policy', 'unknown cache policy');
  return v.list;
}

/** What RecordJob and SubmitJob share: the job's definition, parents, labels, readers and idempotency key. */
function validateDefinition(v: Violations, command: RecordJobCommand | SubmitJobCommand, limits: ServiceLimits): void {
  v.printableToken('request_id', command.requestId, 128);
  v.type('type', command.type);
  v.json('payload', command.payload, limits.maxPayloadBytes);
  v.json('metadata', command.metadata, limits.maxPayloadBytes);
  v.maxLength('provider.id', command.provider.id, 256);
  v.maxLength('provider.model', command.provider.model, 256);
  v.maxLength('provider.version', command.provider.version, 256);
  v.parents('parent_job_ids', command.parentIds);
  validateLabels(v, command.labels);
  if (command.readers.length > MAX_READERS) v.add('reader_subjects', `at most ${MAX_READERS} subjects`);
  command.readers.forEach((reader, i) => {
    if (!reader || reader.length > 256) v.add(`reader_subjects[${i}]`, 'must be 1 to 256 characters');
    else if (!isReaderGrant(reader)) v.add(`reader_subjects[${i}]`, 'must name a tenant and a subject as "tenant/subject"');
  });
}

function validateLabels(v: Violations, labels: Readonly<Record<string, string>>): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) v.add('labels', `at most ${MAX_LABELS} labels`);
  for (const [key, value] of entries) {
    if (!LABEL_KEY_PATTERN.test(key)) {
      v.add(`labels[${key}]`, "key must be 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter");
    }
    if (value.length > 63) v.add(`labels[${key}]`, 'value must be at most 63 characters');
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
    v.jobId('error.dependency_job_id', command.error.dependencyJobId, false);
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
