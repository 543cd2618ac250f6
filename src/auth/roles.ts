import type { Role } from '../domain/principal.js';

export const KNOWN_ROLES: readonly Role[] = ['reader', 'submitter', 'admin', 'operator'];

export function isKnownRole(value: unknown): value is Role {
  return typeof value === 'string' && (KNOWN_ROLES as readonly string[]).includes(value);
}

/**
 * The known roles among names an identity provider or certificate issuer
 * asserts, once each. Unknown names are other systems' roles and are ignored;
 * an identity with none of ours may still read.
 */
export function grantedRoles(names: Iterable<string>): Role[] {
  const roles = [...new Set([...names].filter(isKnownRole))];
  return roles.length > 0 ? roles : ['reader'];
}
