import { makeHmacSecret, signToken } from './credentials.js';

export const TOKEN_ISSUER = 'https://issuer.test';
export const TOKEN_AUDIENCE = 'provenance';

/** HS256 bearer tokens for a test server: the environment that makes it take them, and a token for any principal. */
export interface BearerTokens {
  /** PROVENANCE_JWT_SECRET, _ISSUER and _AUDIENCE. */
  env: Record<string, string>;
  /** A token valid for ten minutes; overrides replace or add claims. */
  token(subject: string, tenant: string, roles: readonly string[], overrides?: Record<string, unknown>): Promise<string>;
  /** The same as an Authorization header. */
  header(subject: string, tenant: string, roles: readonly string[]): Promise<{ authorization: string }>;
}

export function bearerTokens(): BearerTokens {
  const secret = makeHmacSecret();
  const token = (sub: string, tenant: string, roles: readonly string[], overrides: Record<string, unknown> = {}) =>
    signToken({ sub, tenant, roles: [...roles], iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600, ...overrides }, 'HS256', secret);
  return {
    env: { PROVENANCE_JWT_SECRET: secret, PROVENANCE_JWT_ISSUER: TOKEN_ISSUER, PROVENANCE_JWT_AUDIENCE: TOKEN_AUDIENCE },
    token,
    header: async (subject, tenant, roles) => ({ authorization: `Bearer ${await token(subject, tenant, roles)}` }),
  };
}
