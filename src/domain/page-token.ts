import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { invalidArgument } from './errors.js';
import { canonicalJson, sha256Hex } from './hashing.js';
import type { JsonObject, JsonValue } from './json.js';
import { isJsonObject } from './json.js';

/**
 * Page tokens (AIP-158) are opaque to clients: where the previous page ended
 * and a fingerprint of the query that made it, encrypted and authenticated
 * (AES-256-GCM) with the deployment's secret, so that a token can neither
 * be forged nor read (a page may end on a job the caller sees only as a
 * restricted placeholder), and a token used with another query is refused.
 */

const IV_BYTES = 12;
const TAG_BYTES = 16;
/**
 * The plaintext is padded with spaces, which JSON.parse skips, to a multiple
 * of this: every position naming a job id of at most its 128 characters
 * (docs/limits.md) fits one block, so that a token's length tells nothing of
 * the id it ends on, a placeholder's real id included. Tokens issued before
 * the padding decode as they did (docs/decisions.md, "Tokens of one length").
 */
const PLAINTEXT_BLOCK_BYTES = 256;

function cipherKey(secret: Buffer): Buffer {
  return createHash('sha256').update('page-token\0').update(secret).digest();
}

function queryFingerprint(query: JsonValue): string {
  return sha256Hex(canonicalJson(query)).slice(0, 16);
}

export function encodePageToken(query: JsonValue, position: JsonObject, secret: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', cipherKey(secret), iv);
  const body = Buffer.concat([cipher.update(padded(JSON.stringify({ q: queryFingerprint(query), p: position }))), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function padded(text: string): Buffer {
  const length = Buffer.byteLength(text, 'utf8');
  const block = Buffer.alloc(Math.ceil(length / PLAINTEXT_BLOCK_BYTES) * PLAINTEXT_BLOCK_BYTES, ' ');
  block.write(text, 'utf8');
  return block;
}

/** The position a token carries (in the request field named field), or INVALID_ARGUMENT when it is malformed, forged, or belongs to another query. */
export function decodePageToken(token: string, query: JsonValue, secret: Buffer, field = 'page_token'): JsonObject {
  const parsed = decrypt(token, secret);
  if (!isJsonObject(parsed) || !isJsonObject(parsed.p) || typeof parsed.q !== 'string') {
    throw invalidArgument([{ field, description: 'is not a page token this service issued' }]);
  }
  if (parsed.q !== queryFingerprint(query)) {
    throw invalidArgument([{ field, description: 'was issued for a different query (the other request fields must stay the same between pages)' }]);
  }
  return parsed.p;
}

function decrypt(token: string, secret: Buffer): unknown {
  try {
    const bytes = Buffer.from(token, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', cipherKey(secret), bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const text = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
