import type { IncomingMessage } from 'node:http';
import { Metadata, status } from '@grpc/grpc-js';
import { AuthenticationThrottled } from '../auth/authentication-throttle.js';
import { AuthenticationFailed } from '../auth/authenticator.js';
import { mayReadMetrics, permissionDenied } from '../domain/access.js';
import type { Principal } from '../domain/principal.js';
import { toRpcStatus } from '../grpc/errors.js';
import type { CallerAuthentication } from '../grpc/interceptors/authentication.js';
import { statusResponse } from './rest/http-status.js';
import type { HttpResponse, RouteContext } from './server.js';

/** Request headers that carry credentials; the REST gateway forwards them to the gRPC call as metadata. */
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key'];
/** How /metrics is named in logs and error details. */
const METRICS_METHOD = 'GET /metrics';
/** What a text value of gRPC metadata may hold: printable ASCII. */
const METADATA_TEXT = /^[\x20-\x7e]*$/;

/**
 * Who makes an HTTP request, from its credential headers and its peer
 * address (whose failures the throttle counts), before anything else is done
 * for it; or the answer refusing it: 401 with no detail (the reason is
 * logged, the credential never), or 429 for an address that failed too often.
 * The caller found is named in the request's access line.
 * `method` names what was asked for in the log and in the error's details.
 */
export async function identifyCaller(
  authentication: Pick<CallerAuthentication, 'authenticate'>,
  request: IncomingMessage,
  context: RouteContext,
  method: string,
): Promise<{ principal: Principal } | { refusal: HttpResponse }> {
  const peer = request.socket.remoteAddress ?? '';
  try {
    const principal = await authentication.authenticate({ metadata: credentialsOf(request) }, peer);
    context.identified(principal);
    return { principal };
  } catch (error) {
    if (error instanceof AuthenticationThrottled) {
      context.log.debug({ path: context.url.pathname, peer }, 'HTTP request refused: too many failed authentications from its address');
      return { refusal: statusResponse(toRpcStatus(error, method, context.log)) };
    }
    if (!(error instanceof AuthenticationFailed)) throw error;
    context.log.info({ path: context.url.pathname, reason: error.message, peer }, 'unauthenticated HTTP request refused');
    return { refusal: statusResponse({ code: status.UNAUTHENTICATED, message: 'unauthenticated', details: [] }) };
  }
}

/** The credential headers as gRPC metadata, every value of a repeated one (which authentication refuses). */
export function credentialsOf(request: IncomingMessage): Metadata {
  const metadata = new Metadata();
  for (const name of CREDENTIAL_HEADERS) {
    for (const value of request.headersDistinct[name] ?? []) {
      // grpc-js would throw, naming the value, on what gRPC metadata cannot carry; no credential holds such characters.
      if (!METADATA_TEXT.test(value)) throw new AuthenticationFailed(`the ${name} header holds characters no credential has`);
      metadata.add(name, value);
    }
  }
  return metadata;
}

/**
 * The guard of /metrics with authentication configured: a caller with the
 * operator role reads the metrics; any other is refused, 401 without a valid
 * credential, 403 (PERMISSION_DENIED) with one.
 */
export function operatorsOnly(authentication: Pick<CallerAuthentication, 'authenticate'>): (request: IncomingMessage, context: RouteContext) => Promise<HttpResponse | undefined> {
  return async (request, context) => {
    const caller = await identifyCaller(authentication, request, context, METRICS_METHOD);
    if ('refusal' in caller) return caller.refusal;
    if (mayReadMetrics(caller.principal)) return undefined;
    return statusResponse(toRpcStatus(permissionDenied('the metrics span every tenant: reading them needs the operator role'), METRICS_METHOD, context.log));
  };
}
