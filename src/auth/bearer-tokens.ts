import type { KeyObject } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { Principal } from '../domain/principal.js';
import { AuthenticationFailed } from './authentication-failed.js';
import { grantedRoles } from './roles.js';

export type PublicKeyAlgorithm = 'RS256' | 'ES256';

/** The JWS algorithm names of RFC 7518 and RFC 8037. */
const JWA_NAME = /^(?:(?:HS|RS|ES|PS)(?:256|384|512)|ES256K|EdDSA|Ed25519|none)$/;

/** The issuer's public key and the one algorithm its type allows. */
export interface PublicVerificationKey {
  algorithm: PublicKeyAlgorithm;
  key: KeyObject;
}

/** An HS256 shared secret (a secret KeyObject, so that it never prints with the configuration), a public key, or both. */
export type JwtKeys = { hmacSecret: KeyObject; publicKey?: PublicVerificationKey } | { hmacSecret?: KeyObject; publicKey: PublicVerificationKey };

export type JwtConfig = JwtKeys & {
  issuer: string;
  audience: string;
  clockSkewSeconds: number;
  tenantClaim: string;
  rolesClaim: string;
};

/** How many verified tokens are kept; past it, the oldest kept is forgotten. */
const VERIFIED_TOKENS_KEPT = 1000;

/**
 * Verifies bearer JWTs. Only the algorithms of the configured keys are
 * accepted, each with its own key: `none`, an unconfigured algorithm, or an
 * HS256 token "signed" with the public key's PEM (the RS/HS confusion) fail.
 */
export class BearerTokenVerifier {
  private readonly keys = new Map<string, KeyObject>();
  /**
   * Tokens that passed, by their text, with the time until which they pass:
   * a client sends the same token with every call, and verifying its
   * signature each time cost more than the rest of its authentication (issue
   * #15, per-call costs). Only the expiry depends on the time once a token
   * passed (its nbf is behind it, the rest is fixed by its text and the
   * configuration), so a kept token goes to the whole verification again
   * from its expiry on, which refuses it as before. Refusals are not kept.
   */
  private readonly verified = new Map<string, { principal: Principal; passesUntilMs: number }>();

  constructor(
    private readonly config: JwtConfig,
    /** The time in ms, for expiry: both the kept tokens' and jose's (tests set it). */
    private readonly now: () => number = Date.now,
  ) {
    if (config.hmacSecret) this.keys.set('HS256', config.hmacSecret);
    if (config.publicKey) this.keys.set(config.publicKey.algorithm, config.publicKey.key);
  }

  async verify(token: string): Promise<Principal> {
    const kept = this.verified.get(token);
    const now = this.now();
    if (kept && now < kept.passesUntilMs) return kept.principal;
    this.verified.delete(token);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header) => this.keyFor(header.alg), {
        algorithms: [...this.keys.keys()],
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: this.config.clockSkewSeconds,
        currentDate: new Date(now),
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError) throw new AuthenticationFailed(`bearer token refused (${error.code}): ${error.message}`, { cause: error });
      throw error;
    }
    const principal = this.principal(payload);
    this.keep(token, principal, payload.exp!);
    return principal;
  }

  /** jose refuses a token once exp <= now - clock tolerance, in whole seconds: it passes until (exp + tolerance) s. */
  private keep(token: string, principal: Principal, exp: number): void {
    if (this.verified.size >= VERIFIED_TOKENS_KEPT) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { principal, passesUntilMs: (exp + this.config.clockSkewSeconds) * 1000 });
  }

  /** The key of the token's algorithm only: jose has already refused any algorithm not in the whitelist. */
  private keyFor(algorithm: string | undefined): KeyObject {
    const key = algorithm === undefined ? undefined : this.keys.get(algorithm);
    // The header is the caller's text: named only when it is an algorithm name.
    if (!key) throw new errors.JOSEAlgNotAllowed(`no key for ${algorithm !== undefined && JWA_NAME.test(algorithm) ? `algorithm ${algorithm}` : 'the token\'s algorithm'}`);
    return key;
  }

  private principal(payload: JWTPayload): Principal {
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject === '') throw new AuthenticationFailed('bearer token has no "sub" claim');
    const tenant = payload[this.config.tenantClaim];
    if (typeof tenant !== 'string' || tenant === '') throw new AuthenticationFailed(`bearer token has no "${this.config.tenantClaim}" (tenant) claim`);
    return { subject, tenant, roles: grantedRoles(this.roleNames(payload[this.config.rolesClaim])) };
  }

  /** An array of strings, or one space-separated string (the OAuth "scope" style). */
  private roleNames(claim: unknown): string[] {
    if (claim === undefined) return [];
    if (typeof claim === 'string') return claim.split(' ').filter((name) => name !== '');
    if (Array.isArray(claim) && claim.every((name) => typeof name === 'string')) return claim;
    throw new AuthenticationFailed(`bearer token has a "${this.config.rolesClaim}" (roles) claim that is neither a string nor an array of strings`);
  }
}
