import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { ProvenanceError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { AuthenticationFailed } from './authentication-failed.js';
import type { Authenticator, CallCredentials } from './authenticator.js';

/** How many failed authentications an address may make: a token bucket, refilled at perMinute, holding burst. */
export interface FailureLimit {
  perMinute: number;
  burst: number;
}

/** A call refused without looking at its credential: its address failed to authenticate too often (RESOURCE_EXHAUSTED, with RetryInfo). */
export class AuthenticationThrottled extends ProvenanceError {
  constructor(retryAfterMs: number) {
    super('RESOURCE_EXHAUSTED', `too many failed authentications from this address; retry in ${retryAfterMs} ms`, 'AUTHENTICATION_THROTTLED', { retryDelayMs: retryAfterMs });
    this.name = 'AuthenticationThrottled';
  }
}

/** Addresses tracked at most; past it, those whose buckets are full again go first, then the longest untouched. */
const MAX_ADDRESSES = 100_000;
/** Credentials remembered as accepted, and for how long after their last success. */
const MAX_ACCEPTED = 10_000;
const ACCEPTED_FOR_MS = 3_600_000;
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key'];

/**
 * Authentication that a guesser cannot run at full speed. Each address
 * (IPv6: its /64, which one client commonly holds whole) has a bucket of
 * failures; a call that presents a credential and fails takes one. While an
 * address's bucket is empty, a credential it presents is refused unchecked
 * (AuthenticationThrottled), so that guessing learns nothing, unless that
 * very credential was accepted within the last hour: the legitimate clients
 * of an address an attacker shares (a NAT, a proxy) keep working. Calls
 * without a credential are neither counted nor throttled: they guess nothing.
 * Memory is bounded: at most MAX_ADDRESSES buckets and MAX_ACCEPTED
 * fingerprints (SHA-256 of the credential headers), the oldest dropped first.
 * One per process, shared by gRPC and REST.
 */
export class AuthenticationThrottle {
  private readonly failures = new Map<string, { tokens: number; at: number }>();
  private readonly accepted = new Map<string, number>();

  constructor(
    private readonly authenticator: Authenticator,
    private readonly limit: FailureLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /** The caller; AuthenticationFailed for a bad or missing credential, AuthenticationThrottled for an address over its limit. */
  async authenticate(credentials: CallCredentials, address: string): Promise<Principal> {
    const presented = fingerprint(credentials);
    const key = addressKey(address);
    if (presented !== undefined && !this.wasAccepted(presented)) {
      const waitMs = this.waitMs(key);
      if (waitMs > 0) throw new AuthenticationThrottled(waitMs);
    }
    try {
      const principal = await this.authenticator.authenticate(credentials);
      if (presented !== undefined) remember(this.accepted, presented, this.now() + ACCEPTED_FOR_MS, MAX_ACCEPTED, (expiry) => expiry <= this.now());
      return principal;
    } catch (error) {
      if (error instanceof AuthenticationFailed && presented !== undefined) this.failed(key);
      throw error;
    }
  }

  private wasAccepted(presented: string): boolean {
    const expiry = this.accepted.get(presented);
    return expiry !== undefined && expiry > this.now();
  }

  /** The bucket as it is now, refilled for the time since it was last touched. */
  private bucket(key: string): { tokens: number; at: number } {
    const time = this.now();
    const bucket = this.failures.get(key) ?? { tokens: this.limit.burst, at: time };
    return { tokens: Math.min(this.limit.burst, bucket.tokens + ((time - bucket.at) * this.limit.perMinute) / 60_000), at: time };
  }

  /** Milliseconds until the address may fail again; 0 when it may now. */
  private waitMs(key: string): number {
    const { tokens } = this.bucket(key);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 60_000) / this.limit.perMinute);
  }

  private failed(key: string): void {
    const bucket = this.bucket(key);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    const refilled = (b: { tokens: number; at: number }) => b.tokens + ((this.now() - b.at) * this.limit.perMinute) / 60_000 >= this.limit.burst;
    remember(this.failures, key, bucket, MAX_ADDRESSES, refilled);
  }
}

/**
 * Sets key at the end of the map (its insertion order is its recency). A
 * full map drops what is stale, then the oldest entries down to nine
 * tenths, so that a flood of new addresses costs a sweep per tenth of the
 * map, not one per address.
 */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number, stale: (value: V) => boolean): void {
  map.delete(key);
  if (map.size >= max) {
    for (const [other, held] of map) if (stale(held)) map.delete(other);
    for (const other of map.keys()) {
      if (map.size < max * 0.9) break;
      map.delete(other);
    }
  }
  map.set(key, value);
}

/** A digest of the credential headers a call presents; undefined when it presents none. */
function fingerprint({ metadata }: CallCredentials): string | undefined {
  const values = CREDENTIAL_HEADERS.flatMap((name) => metadata.get(name).map((value) => `${name}\u0000${String(value)}`));
  return values.length === 0 ? undefined : createHash('sha256').update(values.join('\u0000')).digest('base64url');
}

/** An IPv4 address as it is (also when IPv4-mapped); an IPv6 address as its /64 network. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return mapped;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
