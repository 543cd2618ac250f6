import type { Metadata } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Principal } from '../domain/principal.js';
import { ApiKeyVerifier } from './api-keys.js';
import { isAuthenticationConfigured, type AuthConfig } from './auth-config.js';
import { AuthenticationFailed } from './authentication-failed.js';
import { BearerTokenVerifier } from './bearer-tokens.js';
import { principalFromCertificate } from './client-certificates.js';

export { AuthenticationFailed };

/** What a call presents: its metadata, and the client certificate TLS verified, if any. */
export interface CallCredentials {
  metadata: Metadata;
  /** `call.getAuthContext().sslPeerCertificate`: set only for a certificate the TLS layer verified. */
  peerCertificate?: PeerCertificate;
}

export interface Authenticator {
  /** The caller, or AuthenticationFailed for a missing or bad credential. */
  authenticate(credentials: CallCredentials): Promise<Principal>;
}

/** undefined when no method identifies callers. */
export function createAuthenticator(config: AuthConfig): Authenticator | undefined {
  if (!isAuthenticationConfigured(config)) return undefined;
  return new CredentialAuthenticator(
    config.jwt && new BearerTokenVerifier(config.jwt),
    config.apiKeys && new ApiKeyVerifier(config.apiKeys),
    config.tls?.clientCertificateAuthority !== undefined,
  );
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
/**
 * Authorization schemes named in the log when a header uses one: IANA's
 * registry and a few common others. Anything else is not named, because a
 * header without a scheme is the secret itself.
 */
const KNOWN_SCHEMES = new Set(
  ['Basic', 'Bearer', 'Concealed', 'Digest', 'DPoP', 'GNAP', 'HOBA', 'Mutual', 'Negotiate', 'NTLM', 'OAuth', 'PrivateToken', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'vapid', 'AWS4-HMAC-SHA256', 'Token', 'ApiKey'].map((scheme) => scheme.toLowerCase()),
);

/**
 * Tries a bearer token, then an API key, then the client certificate. The
 * first kind the call presents decides: a bad one fails even if a later kind
 * would pass, so a caller never silently becomes someone else. A kind the
 * server does not accept counts as bad, not absent: the caller meant it.
 */
class CredentialAuthenticator implements Authenticator {
  constructor(
    private readonly bearerTokens: BearerTokenVerifier | undefined,
    private readonly apiKeys: ApiKeyVerifier | undefined,
    private readonly certificatesIdentify: boolean,
  ) {}

  async authenticate({ metadata, peerCertificate }: CallCredentials): Promise<Principal> {
    const authorization = singleValue(metadata, 'authorization');
    if (authorization !== undefined) {
      if (!this.bearerTokens) throw new AuthenticationFailed('an authorization header was presented, but JWT authentication is not configured');
      const token = BEARER.exec(authorization)?.[1];
      if (token === undefined) throw new AuthenticationFailed(`the authorization header is not "Bearer <token>" (${schemeOf(authorization)})`);
      return this.bearerTokens.verify(token);
    }
    const apiKey = singleValue(metadata, 'x-api-key');
    if (apiKey !== undefined) {
      if (!this.apiKeys) throw new AuthenticationFailed('an x-api-key header was presented, but API keys are not configured');
      return this.apiKeys.verify(apiKey);
    }
    // Without a client CA the server asks for no certificate, and none it got would have been verified.
    if (peerCertificate && this.certificatesIdentify) return principalFromCertificate(peerCertificate);
    throw new AuthenticationFailed('no credential was presented');
  }
}

/** How a refused Authorization header is described in the log: by its scheme when it is a known one, never by anything the caller wrote otherwise. */
function schemeOf(authorization: string): string {
  const [first = '', ...rest] = authorization.trim().split(/\s+/);
  if (rest.length === 0) return 'no scheme';
  return KNOWN_SCHEMES.has(first.toLowerCase()) ? `scheme "${first}"` : 'an unknown scheme';
}

/** A header sent more than once is ambiguous about who calls, so it fails. */
function singleValue(metadata: Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new AuthenticationFailed(`the ${key} header was sent ${values.length} times`);
  const value = values[0];
  if (typeof value !== 'string') throw new AuthenticationFailed(`the ${key} header is binary`);
  return value;
}
