import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { JsonObject, JsonValue } from './json.js';
import { hasKeyAnywhere, isJsonObject, setMember } from './json.js';

/**
 * Hashes of docs/hashing.md. Every hash is lowercase hex SHA-256 over the
 * RFC 8785 (JCS) canonical JSON of a value, so any language with a JCS
 * implementation computes the same bytes whatever its key order.
 */

/** Keys that record when a job was asked for, not what it asks for. */
export const DEFAULT_VOLATILE_KEYS: readonly string[] = [
  'timestamp',
  'createdAt',
  'updatedAt',
  'requestedAt',
  'created_at',
  'updated_at',
  'requested_at',
];

export interface ParentOutput {
  jobId: string;
  /** null when the parent has no output hash (not succeeded, or missing). */
  outputHash: string | null;
}

/** crypto.hash: one call, without the Hash object that createHash makes (a third of the time for the short texts hashed here). */
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

export function canonicalJson(value: JsonValue): string {
  // Plain JSON, nearly every value hashed, is written here in one walk; canonicalize, which sets up a set of the
  // objects seen and checks every string with a loop of its own, writes the rest (Dates, and the values it refuses).
  const text = plainCanonicalJson(value, 0);
  if (text !== undefined) return text;
  const written = canonicalize(value);
  if (written === undefined) throw new TypeError('value has no JSON form');
  return written;
}

/** Deeper than any value validation lets through (64 levels): past it, canonicalize's cycle check takes over. */
const PLAIN_DEPTH = 100;

/**
 * RFC 8785 of a value made only of null, booleans, finite numbers, strings
 * without lone surrogates, arrays and plain objects, as canonicalize writes
 * it (members by key in UTF-16 code units, undefined members left out,
 * numbers and strings as JSON.stringify writes them); undefined for any
 * other value, which canonicalize then writes or refuses.
 */
function plainCanonicalJson(value: JsonValue, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return isWellFormed(value) ? JSON.stringify(value) : undefined;
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return 'null';
  if (depth === PLAIN_DEPTH) return undefined;
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const written = item === undefined ? undefined : plainCanonicalJson(item, depth + 1);
      if (written === undefined) return undefined;
      text += i === 0 ? written : `,${written}`;
    }
    return `${text}]`;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return undefined;
  let text = '{';
  for (const key of Object.keys(value).sort()) {
    const item = value[key];
    if (item === undefined) continue;
    const written = isWellFormed(key) ? plainCanonicalJson(item, depth + 1) : undefined;
    if (written === undefined) return undefined;
    text += `${text.length === 1 ? '' : ','}${JSON.stringify(key)}:${written}`;
  }
  return `${text}}`;
}

/** Whether the string holds no lone surrogate, which RFC 8785 refuses (String.prototype.isWellFormed, ES2024). */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * The canonical JSON of an object whose members are given as canonical JSON
 * texts (an undefined one is left out): RFC 8785 orders members by key, and
 * writes each key as JSON.stringify does (member names here are field names,
 * which hold no lone surrogate).
 */
export function canonicalObject(members: Readonly<Record<string, string | undefined>>): string {
  const keys = Object.keys(members).filter((key) => members[key] !== undefined).sort(compareCodeUnits);
  return `{${keys.map((key) => `${JSON.stringify(key)}:${members[key]}`).join(',')}}`;
}

/**
 * Removes every object key named in volatileKeys, at any depth (inside
 * arrays too). A value that holds none is returned as it is (the same
 * object), which tells callers that its canonical JSON is unchanged.
 */
export function removeVolatileKeys(value: JsonValue, volatileKeys: ReadonlySet<string>): JsonValue {
  // Most payloads hold none: a walk that only reads spares them a copy of every object, member by member.
  return hasKeyAnywhere(value, (key) => volatileKeys.has(key)) ? withoutVolatileKeys(value, volatileKeys) : value;
}

function withoutVolatileKeys(value: JsonValue, volatileKeys: ReadonlySet<string>): JsonValue {
  if (Array.isArray(value)) {
    const items = value.map((item) => withoutVolatileKeys(item, volatileKeys));
    return items.every((item, i) => item === value[i]) ? value : items;
  }
  if (!isJsonObject(value)) return value;
  const kept: JsonObject = {};
  let changed = false;
  for (const [key, item] of Object.entries(value)) {
    if (volatileKeys.has(key)) {
      changed = true;
      continue;
    }
    const normalized = withoutVolatileKeys(item, volatileKeys);
    changed ||= normalized !== item;
    setMember(kept, key, normalized);
  }
  return changed ? kept : value;
}

/**
 * canonicalPayload, when given, is canonicalJson(payload), made for another
 * hash of the same request: it is not made again when the payload holds no
 * volatile key, the usual case.
 */
export function definitionHash(type: string, payload: JsonObject, volatileKeys: ReadonlySet<string>, canonicalPayload?: string): string {
  const normalized = removeVolatileKeys(payload, volatileKeys);
  const payloadText = normalized === payload && canonicalPayload !== undefined ? canonicalPayload : canonicalJson(normalized);
  return sha256Hex(canonicalObject({ type: canonicalJson(type), payload: payloadText }));
}

export function inputHash(definition: string, parents: readonly ParentOutput[]): string {
  const sorted = [...parents].sort((a, b) => compareCodeUnits(a.jobId, b.jobId));
  // canonicalJson({ definitionHash, parents: [{ jobId, outputHash }] }), written directly: its members are in key order already.
  let text = `{"definitionHash":${canonicalJson(definition)},"parents":[`;
  for (let i = 0; i < sorted.length; i++) {
    const { jobId, outputHash } = sorted[i]!;
    text += `${i === 0 ? '' : ','}{"jobId":${canonicalJson(jobId)},"outputHash":${outputHash === null ? 'null' : canonicalJson(outputHash)}}`;
  }
  return sha256Hex(`${text}]}`);
}

export function outputHash(output: JsonValue): string {
  return hashedOutput(output).outputHash;
}

/** The output's hash, and the UTF-8 size of the canonical form it hashes: one canonicalization for both. */
export function hashedOutput(output: JsonValue): { outputHash: string; canonicalBytes: number } {
  const canonical = canonicalJson(output);
  return { outputHash: sha256Hex(canonical), canonicalBytes: Buffer.byteLength(canonical, 'utf8') };
}

/** Orders strings by UTF-16 code units, as RFC 8785 orders keys; locale-independent. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Returns the path of the first number JSON cannot carry (NaN, ±Infinity), or undefined. */
export function findNonFiniteNumber(value: JsonValue, path: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNonFiniteNumber(value[i]!, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (isJsonObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      const found = findNonFiniteNumber(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}
