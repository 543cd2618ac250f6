import { ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Authenticator } from '../../auth/authenticator.js';
import type { Principal } from '../../domain/principal.js';
import { removePrincipal, setPrincipal } from '../principal-metadata.js';
import { requestLogger } from '../request-id-metadata.js';

/** Health and reflection answer without credentials: load balancers and grpcurl need them before anything else. */
const OPEN_SERVICES = ['/grpc.health.v1.Health/', '/grpc.reflection.v1.ServerReflection/', '/grpc.reflection.v1alpha.ServerReflection/'];

/**
 * Establishes who calls, before any handler runs: with an authenticator,
 * from the call's credentials (a missing or bad one ends the call
 * UNAUTHENTICATED, with no detail for the caller and the reason in the log);
 * without one, every caller is the fallback principal.
 */
export function authenticationInterceptor(authenticate: Authenticator | { fallback: Principal }, logger: Logger): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            removePrincipal(metadata);
            if (OPEN_SERVICES.some((prefix) => method.path.startsWith(prefix))) return nextMetadata(metadata);
            if ('fallback' in authenticate) {
              setPrincipal(metadata, authenticate.fallback);
              return nextMetadata(metadata);
            }
            const peerCertificate = call.getAuthContext().sslPeerCertificate;
            authenticate.authenticate({ metadata, ...(peerCertificate ? { peerCertificate } : {}) }).then(
              (principal) => {
                setPrincipal(metadata, principal);
                nextMetadata(metadata);
              },
              (error: unknown) => {
                requestLogger(logger, metadata).info({ method: method.path, reason: error instanceof Error ? error.message : String(error), peer: call.getPeer() }, 'unauthenticated call refused');
                call.sendStatus({ code: status.UNAUTHENTICATED, details: 'unauthenticated' });
              },
            );
          },
        }),
    });
}
