import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * The hashes of docs/hashing.md, computed the way the server computes them:
 * lowercase hex SHA-256 over the RFC 8785 (JCS) canonical JSON of a value.
 * A job's definition_hash and input_hash can be checked from the record alone.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Payload keys left out of the definition hash unless the server sets PROVENANCE_VOLATILE_KEYS. */
export const DEFAULT_VOLATILE_KEYS: readonly string[] = [
  'timestamp',
  'createdAt',
  'updatedAt',
  'requestedAt',
  'created_at',
  'updated_at',
  'requested_at',
];

/** A parent as the input hash sees it: its output hash when the child was recorded, or null if it had none. */
export interface ParentOutput {
  jobId: string;
  outputHash: string | null;
}

/** RFC 8785 text of a value. Throws on what JSON cannot carry: NaN, infinities, lone surrogates, cycles. */
export function canonicalJson(value: JsonValue): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('the value has no JSON form');
  return text;
}

/** The payload without its volatile keys, at any depth (inside arrays too); the given payload is not changed. */
export function removeVolatileKeys(value: JsonValue, volatileKeys: Iterable<string> = DEFAULT_VOLATILE_KEYS): JsonValue {
  return withoutKeys(value, new Set(volatileKeys));
}

/** hex(sha256(JCS({type, payload}))), the payload without its volatile keys. */
export function definitionHash(type: string, payload: JsonObject, volatileKeys: Iterable<string> = DEFAULT_VOLATILE_KEYS): string {
  return sha256Hex(canonicalJson({ type, payload: removeVolatileKeys(payload, volatileKeys) }));
}

/** hex(sha256(JCS({definitionHash, parents}))), the parents sorted by job id. */
export function inputHash(definition: string, parents: readonly ParentOutput[]): string {
  const sorted = [...parents]
    // RFC 8785 orders by UTF-16 code units, which is what < does on strings.
    .sort((a, b) => (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0))
    .map(({ jobId, outputHash }) => ({ jobId, outputHash }));
  return sha256Hex(canonicalJson({ definitionHash: definition, parents: sorted }));
}

/** hex(sha256(JCS(output))): what RecordJob stores as output_hash when given output. */
export function outputHash(output: JsonValue): string {
  return sha256Hex(canonicalJson(output));
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function withoutKeys(value: JsonValue, keys: ReadonlySet<string>): JsonValue {
  if (Array.isArray(value)) return value.map((item) => withoutKeys(item, keys));
  if (value === null || typeof value !== 'object') return value;
  const kept: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    // defineProperty, because assigning a "__proto__" key would set the prototype instead.
    if (!keys.has(key)) Object.defineProperty(kept, key, { value: withoutKeys(item, keys), enumerable: true, writable: true, configurable: true });
  }
  return kept;
}
