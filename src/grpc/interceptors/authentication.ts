import { createHash, timingSafeEqual } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { AuthenticationThrottled } from '../../auth/authentication-throttle.js';
import type { Authenticator, CallCredentials } from '../../auth/authenticator.js';
import type { Principal } from '../../domain/principal.js';
import { toServiceError } from '../errors.js';
import { setPrincipal } from '../principal-metadata.js';
import { requestLogger } from '../request-id-metadata.js';
import type { CallConcern } from './call-concerns.js';

/** Health and reflection answer without credentials: load balancers and grpcurl need them before anything else. */
const OPEN_SERVICES = ['/grpc.health.v1.Health/', '/grpc.reflection.v1.ServerReflection/', '/grpc.reflection.v1alpha.ServerReflection/'];

/** The metadata entry by which this process's REST gateway marks the calls it forwards. */
export const GATEWAY_TOKEN_KEY = 'x-provenance-gateway';
/**
 * The address of the REST caller, which the gateway sends with each call it
 * forwards (they all come from loopback); kept only on a call that carries
 * the gateway's token, removed from any other, so that access lines name
 * the real client.
 */
export const CLIENT_ADDRESS_KEY = 'x-provenance-client-address';

export interface CallerAuthentication {
  /** The credentials alone, for the calls the REST gateway forwards. */
  authenticator: Authenticator;
  /** The credentials of a call from that peer address, failures counted against it when PROVENANCE_AUTH_FAILURE_LIMIT says so. */
  authenticate(credentials: CallCredentials, peer: string): Promise<Principal>;
  /**
   * A secret of this process. The REST gateway sends it with the calls it
   * forwards: it authenticated them already, by their real peer address, and
   * all of them come from loopback, which must not be throttled as one
   * address for every REST caller.
   */
  gatewayToken: string;
}

/**
 * Establishes who calls, before any handler runs: with an authenticator,
 * from the call's credentials (a missing or bad one ends the call
 * UNAUTHENTICATED, with no detail for the caller and the reason in the log;
 * a peer address that failed too often is RESOURCE_EXHAUSTED with
 * RetryInfo); without one, every caller is the fallback principal.
 */
export function authenticationConcern(authentication: CallerAuthentication | { fallback: Principal; gatewayToken: string }, logger: Logger): CallConcern {
  return (method, call) => ({
    onReceiveMetadata: (metadata, next, refuse) => {
      const [token] = metadata.get(GATEWAY_TOKEN_KEY);
      const [clientAddress] = metadata.get(CLIENT_ADDRESS_KEY);
      metadata.remove(GATEWAY_TOKEN_KEY);
      metadata.remove(CLIENT_ADDRESS_KEY);
      const forwarded = typeof token === 'string' && sameSecret(token, authentication.gatewayToken);
      if (forwarded && typeof clientAddress === 'string') metadata.set(CLIENT_ADDRESS_KEY, clientAddress);
      if (OPEN_SERVICES.some((prefix) => method.path.startsWith(prefix))) return next(metadata);
      if ('fallback' in authentication) {
        setPrincipal(metadata, authentication.fallback);
        return next(metadata);
      }
      const peerCertificate = call.getAuthContext().sslPeerCertificate;
      const credentials = { metadata, ...(peerCertificate ? { peerCertificate } : {}) };
      const peer = peerAddress(call.getPeer());
      const authenticated = forwarded ? authentication.authenticator.authenticate(credentials) : authentication.authenticate(credentials, peer);
      authenticated.then(
        (principal) => {
          setPrincipal(metadata, principal);
          next(metadata);
        },
        (error: unknown) => {
          const log = requestLogger(logger, metadata);
          if (error instanceof AuthenticationThrottled) {
            log.debug({ method: method.path, peer }, 'call refused: too many failed authentications from its address');
            const refused = toServiceError(error, method.path, logger);
            return refuse({ code: refused.code, details: refused.details, metadata: refused.metadata });
          }
          log.info({ method: method.path, reason: error instanceof Error ? error.message : String(error), peer }, 'unauthenticated call refused');
          return refuse({ code: status.UNAUTHENTICATED, details: 'unauthenticated' });
        },
      );
    },
  });
}

/** The address of a grpc-js peer ("127.0.0.1:51234", "::1:51234"), without its port. */
export function peerAddress(peer: string): string {
  const colon = peer.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(peer.slice(colon + 1)) ? peer.slice(0, colon) : peer;
}

/** Compares in constant time (over digests, so lengths tell nothing either): the gateway token lets a call skip the failure throttle. */
function sameSecret(presented: string, secret: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(secret));
}
