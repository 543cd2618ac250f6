import { randomBytes } from 'node:crypto';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isLoopback, splitAddress } from '../platform/address.js';
import { AuthenticationThrottle } from '../auth/authentication-throttle.js';
import { createAuthenticator } from '../auth/authenticator.js';
import { ConfigError } from '../config/config-error.js';
import type { Config } from '../config/config.js';
import { ANONYMOUS_ADMIN } from '../domain/principal.js';
import { authenticationConcern, type CallerAuthentication } from './interceptors/authentication.js';
import type { CallConcern } from './interceptors/call-concerns.js';
import { rateLimitConcern } from './interceptors/rate-limit.js';

/** Calls per second per principal when authentication is configured and PROVENANCE_RATE_LIMIT is not set. */
const DEFAULT_RATE_LIMIT = 500;

export interface ServerSecurity {
  credentials: ServerCredentials;
  /** Authentication first, then the rate limit (which needs the principal). */
  concerns: CallConcern[];
  /**
   * How the authentication interceptor checks credentials, for the HTTP
   * side to check them the same way (with the same failure limit by
   * address) and to mark the calls it forwards; undefined when no
   * authentication is configured.
   */
  authentication: CallerAuthentication | undefined;
  /** The secret by which the REST gateway marks the calls it forwards (CallerAuthentication.gatewayToken), with or without authentication. */
  gatewayToken: string;
}

/**
 * Safe by default: with no authentication configured, the server (or a
 * worker's metrics listener, given as listeners) only listens on loopback (where the caller is the anonymous admin of tenant
 * "default"), with gRPC and with HTTP alike, unless
 * PROVENANCE_ALLOW_INSECURE=true says otherwise.
 */
export function serverSecurity(config: Config, logger: Logger, listeners: ReadonlyArray<readonly [variable: string, address: string]> = serverListeners(config)): ServerSecurity {
  const { auth, allowInsecure } = config.security;
  const authenticator = createAuthenticator(auth);
  if (!authenticator) {
    for (const [variable, address] of listeners) {
      const host = splitAddress(address).bareHost;
      if (isLoopback(host) || allowInsecure) continue;
      throw new ConfigError(
        variable,
        `listens on ${host}, beyond loopback, with no authentication configured: configure JWT (PROVENANCE_JWT_*), API keys (PROVENANCE_API_KEYS_FILE) or mTLS (PROVENANCE_TLS_*), or set PROVENANCE_ALLOW_INSECURE=true`,
      );
    }
    logger.warn({ address: listeners[0]?.[1] }, 'no authentication configured: every caller is the anonymous admin of tenant "default"');
  }
  const perSecond = config.security.rateLimitPerSecond ?? (authenticator ? DEFAULT_RATE_LIMIT : 0);
  const failureLimit = config.security.authFailureLimit;
  const throttle = authenticator && failureLimit.perMinute > 0 ? new AuthenticationThrottle(authenticator, failureLimit) : undefined;
  const gatewayToken = randomBytes(32).toString('base64url');
  const authentication: CallerAuthentication | undefined = authenticator && {
    authenticator,
    authenticate: (credentials, peer) => (throttle ? throttle.authenticate(credentials, peer) : authenticator.authenticate(credentials)),
    gatewayToken,
  };
  const concerns = [authenticationConcern(authentication ?? { fallback: ANONYMOUS_ADMIN, gatewayToken }, logger)];
  if (perSecond > 0) concerns.push(rateLimitConcern({ perSecond, burst: config.security.rateLimitBurst ?? perSecond * 2 }, logger));
  const { tls } = auth;
  const credentials = tls
    ? ServerCredentials.createSsl(
        tls.clientCertificateAuthority ?? null,
        [{ private_key: tls.privateKey, cert_chain: tls.certificateChain }],
        tls.clientCertificateAuthority !== undefined,
      )
    : ServerCredentials.createInsecure();
  return { credentials, concerns, authentication, gatewayToken };
}

/** The server's listeners, by the variable that sets each: gRPC, and HTTP unless it is off. */
function serverListeners(config: Config): Array<readonly [string, string]> {
  return [['PROVENANCE_GRPC_ADDRESS', config.grpcAddress], ...(config.httpAddress ? [['PROVENANCE_HTTP_ADDRESS', config.httpAddress] as const] : [])];
}
