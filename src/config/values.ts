import { CACHE_SALT_RULE, isValidCacheSalt } from '../domain/cache-salt.js';
import { ConfigError } from './config-error.js';

/** Reads one environment variable: undefined when unset or blank. */
export type Read = (name: string) => string | undefined;

/*
 * Parsers of configuration values: each takes the variable's name, so that a
 * bad value stops the process with one line naming the variable.
 */

export function integer(read: Read, name: string, fallback: number, min: number, max: number): number {
  const text = read(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new ConfigError(name, `must be a whole number, got "${text}"`);
  const value = Number(text);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function secret(read: Read, name: string): Buffer | undefined {
  const text = read(name);
  if (text === undefined) return undefined;
  if (text.length < 32) throw new ConfigError(name, 'must be at least 32 characters (e.g. the output of openssl rand -hex 32)');
  return Buffer.from(text, 'utf8');
}

export function boolean(read: Read, name: string, fallback: boolean): boolean {
  const text = read(name);
  if (text === undefined) return fallback;
  if (text !== 'true' && text !== 'false') throw new ConfigError(name, `must be true or false, got "${text}"`);
  return text === 'true';
}

const AGE_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A number of events ("1000000"), or an age ("30s", "15m", "24h", "7d"). */
export function retention(read: Read, name: string, fallback: { maxCount: number }): { maxCount: number } | { maxAgeMs: number } {
  const text = read(name);
  if (text === undefined) return fallback;
  const match = /^(\d{1,12})([smhd])?$/.exec(text);
  if (!match || Number(match[1]) === 0) throw new ConfigError(name, `must be a positive number of events (e.g. 1000000) or an age (e.g. 24h, 7d), got "${text}"`);
  const amount = Number(match[1]);
  return match[2] ? { maxAgeMs: amount * AGE_UNITS_MS[match[2] as keyof typeof AGE_UNITS_MS] } : { maxCount: amount };
}

export function token(read: Read, name: string, fallback: string): string {
  const text = read(name) ?? fallback;
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(text)) throw new ConfigError(name, `must be 1 to 64 letters, digits, '.', '_', ':' or '-', got "${text}"`);
  return text;
}

export function oneOf<T extends string>(read: Read, name: string, allowed: readonly T[], fallback: T): T {
  const text = read(name);
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${text}"`);
  return text as T;
}

export function address(read: Read, name: string, fallback: string): string {
  const text = read(name) ?? fallback;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!match || Number(match[3]) > 65535) throw new ConfigError(name, `must be host:port (e.g. 127.0.0.1:50051 or [::1]:50051), got "${text}"`);
  return text;
}

export function list(read: Read, name: string, fallback: readonly string[]): string[] {
  const text = read(name);
  if (text === undefined) return [...fallback];
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new ConfigError(name, `must be a comma-separated list without empty items, got "${text}"`);
  return items;
}

/** The most tenants PROVENANCE_CACHE_SALTS may name. */
const MAX_SALTED_TENANTS = 10_000;

/**
 * A JSON object of tenant to cache salt ({"acme": "2026-12-05"}); each salt
 * follows the rule of a request's cache_salt. Unset: no tenant has a salt.
 */
export function tenantCacheSalts(read: Read, name: string): ReadonlyMap<string, string> {
  const text = read(name);
  if (text === undefined) return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(name, 'must be a JSON object of tenant to salt, e.g. {"acme": "2026-12-05"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(name, 'must be a JSON object of tenant to salt, e.g. {"acme": "2026-12-05"}');
  }
  const entries = Object.entries(parsed);
  if (entries.length > MAX_SALTED_TENANTS) throw new ConfigError(name, `may name at most ${MAX_SALTED_TENANTS} tenants, got ${entries.length}`);
  for (const [tenant, salt] of entries) {
    if (tenant === '' || tenant.length > 256) throw new ConfigError(name, 'each tenant must be 1 to 256 characters');
    if (typeof salt !== 'string' || !isValidCacheSalt(salt)) throw new ConfigError(name, `the salt of tenant "${tenant}" ${CACHE_SALT_RULE}`);
  }
  return new Map(entries as Array<[string, string]>);
}
