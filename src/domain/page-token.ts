import { invalidArgument } from './errors.js';
import { canonicalJson, sha256Hex } from './hashing.js';
import type { JsonObject, JsonValue } from './json.js';
import { isJsonObject } from './json.js';

/**
 * Page tokens (AIP-158) are opaque to clients: base64url JSON holding where
 * the previous page ended and a fingerprint of the query that made it, so
 * that a token used with another query is refused instead of giving a
 * wrong page.
 */

export function queryFingerprint(query: JsonValue): string {
  return sha256Hex(canonicalJson(query)).slice(0, 16);
}

export function encodePageToken(query: JsonValue, position: JsonObject): string {
  return Buffer.from(JSON.stringify({ q: queryFingerprint(query), p: position }), 'utf8').toString('base64url');
}

/** The position a token carries, or INVALID_ARGUMENT when it is malformed or belongs to another query. */
export function decodePageToken(token: string, query: JsonValue): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!isJsonObject(parsed) || !isJsonObject(parsed.p) || typeof parsed.q !== 'string') {
    throw invalidArgument([{ field: 'page_token', description: 'is not a page token this service issued' }]);
  }
  if (parsed.q !== queryFingerprint(query)) {
    throw invalidArgument([{ field: 'page_token', description: 'was issued for a different query (the other request fields must stay the same between pages)' }]);
  }
  return parsed.p;
}
