import { canonicalJson } from './hashing.js';
import type { JobRecord } from './job.js';

/**
 * Cache salts (issue #16 item 5): a job's result is reused only by a job with
 * the same definition hash, input hash and pair of salts: the tenant's
 * (PROVENANCE_CACHE_SALTS, as configured when the job was created) and the
 * request's (cache_salt). Changing either makes every result cached under
 * the old pair unreachable for reuse at once, without rewriting a record; the
 * hashes stay as they were, so lineage and reproducibility stay comparable.
 */

/** The longest salt, of a request or of a tenant. */
export const MAX_CACHE_SALT_LENGTH = 128;
export const CACHE_SALT_RULE = `must be 1 to ${MAX_CACHE_SALT_LENGTH} printable ASCII characters without spaces`;
const CACHE_SALT_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${MAX_CACHE_SALT_LENGTH}}$`);

export function isValidCacheSalt(salt: string): boolean {
  return CACHE_SALT_PATTERN.test(salt);
}

/** The salts a record ran under; absent ones are empty. */
export type SaltedRecord = Pick<JobRecord, 'cacheSalt' | 'tenantCacheSalt'>;

/**
 * The part of the cache key the salts make, one string for the stores to
 * index: empty when neither salt is set (so records written before salts
 * existed keep theirs), else the canonical JSON of the pair, which no other
 * pair gives.
 */
export function cacheKeySalt(record: SaltedRecord): string {
  const tenant = record.tenantCacheSalt ?? '';
  const request = record.cacheSalt ?? '';
  return tenant === '' && request === '' ? '' : canonicalJson([tenant, request]);
}

/** The salts of a new record: each present only when set. */
export function saltsOf(tenantCacheSalt: string | undefined, cacheSalt: string | undefined): SaltedRecord {
  return { ...(tenantCacheSalt ? { tenantCacheSalt } : {}), ...(cacheSalt ? { cacheSalt } : {}) };
}
