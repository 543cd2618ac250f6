import { createHash, timingSafeEqual } from 'node:crypto';
import type { Principal, Role } from '../domain/principal.js';
import { AuthenticationFailed } from './authentication-failed.js';
import { isKnownRole, KNOWN_ROLES } from './roles.js';

/** One line of the API keys file: the SHA-256 of a key, never the key, and whom it identifies. */
export interface ApiKeyEntry {
  id: string;
  sha256: Buffer;
  principal: Principal;
}

const ENTRY_FIELDS = ['id', 'sha256', 'subject', 'tenant', 'roles'];

/**
 * Parses the API keys file: a JSON array of
 * `{"id", "sha256" (hex SHA-256 of the key), "subject", "tenant", "roles"}`.
 * Throws an Error naming the entry (by position and id) of the first problem.
 */
export function parseApiKeys(text: string): ApiKeyEntry[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(`is not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(document) || document.length === 0) throw new Error('must be a JSON array of at least one key entry');
  const ids = new Set<string>();
  const hashes = new Set<string>();
  return document.map((item: unknown, index) => {
    const entry = item !== null && typeof item === 'object' && !Array.isArray(item) ? (item as Record<string, unknown>) : undefined;
    const name = `entry ${index}${typeof entry?.id === 'string' && entry.id !== '' ? ` ("${entry.id}")` : ''}`;
    const fail = (problem: string): never => {
      throw new Error(`${name}: ${problem}`);
    };
    if (!entry) return fail('must be an object');
    // A stray field is most often the key itself pasted in: refuse it rather than keep a secret in memory unnoticed.
    const unknown = Object.keys(entry).find((field) => !ENTRY_FIELDS.includes(field));
    if (unknown !== undefined) fail(`unknown field "${unknown}" (the file holds ${ENTRY_FIELDS.join(', ')}; never the key itself)`);
    const text = (field: string): string => {
      const value = entry[field];
      return typeof value === 'string' && value.trim() !== '' ? value : fail(`"${field}" must be a non-empty string`);
    };
    const id = text('id');
    if (ids.has(id)) fail(`id "${id}" is used by an earlier entry`);
    ids.add(id);
    const sha256 = text('sha256').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(sha256)) fail('"sha256" must be the SHA-256 of the key as 64 hex digits');
    if (hashes.has(sha256)) fail('"sha256" is the same as an earlier entry\'s (the same key twice)');
    hashes.add(sha256);
    const roles = entry.roles;
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every(isKnownRole)) fail(`"roles" must be a non-empty array of ${KNOWN_ROLES.join(', ')}`);
    return { id, sha256: Buffer.from(sha256, 'hex'), principal: { subject: text('subject'), tenant: text('tenant'), roles: [...new Set(roles as Role[])] } };
  });
}

/**
 * Finds the entry of a presented key. The key is hashed first, then compared
 * with every entry (hashes are unique) by timingSafeEqual, without stopping
 * at a match, so the time taken says nothing about which stored hash, or how
 * much of one, the key came close to. A Map keyed by the hash would be sound
 * for random keys, whose hashes reveal nothing, but it would expose stored
 * hashes to a timing probe, and the hash of a human-chosen key can be guessed
 * offline. The scan costs well under a microsecond per entry.
 */
export class ApiKeyVerifier {
  constructor(private readonly entries: readonly ApiKeyEntry[]) {}

  verify(key: string): Principal {
    if (key === '') throw new AuthenticationFailed('empty API key');
    const presented = createHash('sha256').update(key, 'utf8').digest();
    let match: ApiKeyEntry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(presented, entry.sha256)) match = entry;
    }
    // Not even a prefix of its hash: for a key a person chose, that would let the log confirm guesses offline.
    if (!match) throw new AuthenticationFailed('unknown API key');
    return match.principal;
  }
}
