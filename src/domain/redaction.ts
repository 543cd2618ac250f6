import type { JsonObject, JsonValue } from './json.js';
import { hasKeyAnywhere, isJsonObject, setMember } from './json.js';

/**
 * Payload and metadata keys whose values are secrets: replaced before
 * anything is stored, published or hashed. Keys are compared in their
 * normalized form (see normalizeSecretKey), so `apiKey`, `api_key` and
 * `API-KEY` are one key. An entry starting with `*` matches every key that
 * ends with the rest (`*password` matches `db_password`); the suffixes are
 * kept to words that name nothing but a secret, since a payload key taken
 * for one loses its value (`*token` would take `pad_token` from a model
 * configuration).
 */
export const DEFAULT_REDACT_KEYS: readonly string[] = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apiKey',
  'x-api-key',
  'authorization',
  'access_token',
  'refresh_token',
  'id_token',
  'bearer_token',
  'auth_token',
  'session_token',
  'client_secret',
  'private_key',
  'secret_key',
  'access_key',
  'credential',
  'credentials',
  'cookie',
  '*password',
  '*passwd',
  '*secret',
  '*apiKey',
  '*private_key',
  '*secret_key',
  '*access_token',
  '*refresh_token',
  '*bearer_token',
  '*auth_token',
  '*session_token',
  '*credentials',
];

export const REDACTED = '[REDACTED]';

/** Which keys hold secrets. */
export type SecretKeyMatcher = (key: string) => boolean;

/** A key as it is compared: lowercase, without separators (`-`, `_`, `.`, spaces). */
export function normalizeSecretKey(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, '');
}

/**
 * The matcher of a list of entries (exact keys, and `*`-prefixed suffixes).
 * Throws RangeError for an entry that normalizes to nothing.
 */
export function secretKeyMatcher(entries: readonly string[]): SecretKeyMatcher {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of entries) {
    const suffix = entry.startsWith('*');
    const normalized = normalizeSecretKey(suffix ? entry.slice(1) : entry);
    if (normalized === '') throw new RangeError(`"${entry}" names no key`);
    if (suffix) suffixes.push(normalized);
    else exact.add(normalized);
  }
  return (key) => {
    const normalized = normalizeSecretKey(key);
    return exact.has(normalized) || suffixes.some((suffix) => normalized.endsWith(suffix));
  };
}

/**
 * The value with every member whose key is a secret replaced by
 * "[REDACTED]", at any depth, inside arrays too (the value itself when
 * none is); and whether anything was replaced.
 */
export function redact<T extends JsonValue>(value: T, isSecret: SecretKeyMatcher): { value: T; redacted: boolean } {
  // Most values hold no secret: a walk that only reads spares them a copy of every object, member by member.
  if (!hasKeyAnywhere(value, isSecret)) return { value, redacted: false };
  let redacted = false;
  const walk = (item: JsonValue): JsonValue => {
    if (Array.isArray(item)) return item.map(walk);
    if (!isJsonObject(item)) return item;
    const copy: JsonObject = {};
    for (const [key, member] of Object.entries(item)) {
      const secret = isSecret(key);
      if (secret) redacted = true;
      setMember(copy, key, secret ? REDACTED : walk(member));
    }
    return copy;
  };
  return { value: walk(value) as T, redacted };
}

/** A request with its payload and metadata redacted, and whether anything was. */
export function redactRequest<T extends { payload: JsonObject; metadata: JsonObject }>(request: T, isSecret: SecretKeyMatcher): { request: T; redacted: boolean } {
  const payload = redact(request.payload, isSecret);
  const metadata = redact(request.metadata, isSecret);
  return { request: { ...request, payload: payload.value, metadata: metadata.value }, redacted: payload.redacted || metadata.redacted };
}
