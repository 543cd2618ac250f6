import type { JsonObject, JsonValue } from './json.js';
import { isJsonObject, setMember } from './json.js';

/** Payload keys whose values are secrets: replaced before anything is stored, published or hashed. */
export const DEFAULT_REDACT_KEYS: readonly string[] = ['password', 'secret', 'token', 'apiKey', 'authorization'];

export const REDACTED = '[REDACTED]';

/**
 * The value with every member whose key is one of keys (compared
 * case-insensitively; pass them lowercased) replaced by "[REDACTED]", at any
 * depth, inside arrays too; and whether anything was replaced.
 */
export function redact<T extends JsonValue>(value: T, keys: ReadonlySet<string>): { value: T; redacted: boolean } {
  let redacted = false;
  const walk = (item: JsonValue): JsonValue => {
    if (Array.isArray(item)) return item.map(walk);
    if (!isJsonObject(item)) return item;
    const copy: JsonObject = {};
    for (const [key, member] of Object.entries(item)) {
      const secret = keys.has(key.toLowerCase());
      if (secret) redacted = true;
      setMember(copy, key, secret ? REDACTED : walk(member));
    }
    return copy;
  };
  return { value: walk(value) as T, redacted };
}

/** A request with its payload and metadata redacted, and whether anything was. */
export function redactRequest<T extends { payload: JsonObject; metadata: JsonObject }>(request: T, keys: ReadonlySet<string>): { request: T; redacted: boolean } {
  const payload = redact(request.payload, keys);
  const metadata = redact(request.metadata, keys);
  return { request: { ...request, payload: payload.value, metadata: metadata.value }, redacted: payload.redacted || metadata.redacted };
}
