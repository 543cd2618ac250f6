import { Metadata, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { acceptedRequestId, REQUEST_ID_HEADER } from '../../platform/request-id.js';
import { principalIfAny } from '../principal-metadata.js';
import type { CallConcern } from './call-concerns.js';
import { CLIENT_ADDRESS_KEY, peerAddress } from './authentication.js';

/**
 * Gives every call a request id: the client's x-request-id when it is
 * well-formed, else a fresh one. Handlers find it in the call's metadata
 * (request-id-metadata.ts) and log under it; the client gets it back in the
 * response headers, or in the trailers of a call refused before any header
 * was sent. Runs first, so that the other concerns' log lines can name it
 * too, and so that it sees every call end: it writes the call's access line,
 * at info, with the method, the status code, the duration, the caller's
 * address and the principal the authentication concern found (on the
 * same metadata object, which the concerns hand on). A call the REST
 * gateway forwarded names the REST client's address, not the gateway's.
 */
export function requestIdConcern(logger: Logger): CallConcern {
  return (method, call) => {
    const started = performance.now();
    let requestId: string | undefined;
    let received: Metadata | undefined;
    /** Normally the one taken from the metadata; a call refused before its metadata was read still gets one. */
    const id = () => (requestId ??= acceptedRequestId(undefined));
    let headersSent = false;
    let logged = false;
    const accessLine = (code: string) => {
      if (logged) return;
      logged = true;
      const principal = received && principalIfAny(received);
      const [forwardedFor] = received?.get(CLIENT_ADDRESS_KEY) ?? [];
      const forwarded = typeof forwardedFor === 'string';
      // Fields added in place, in the line's order, instead of spreading a new object for each optional one.
      const line: Record<string, unknown> = {
        requestId: id(),
        method: method.path,
        code,
        durationMs: Math.round(performance.now() - started),
        peer: forwarded ? forwardedFor : peerAddress(call.getPeer()),
      };
      if (forwarded) line.via = 'rest';
      if (principal) {
        line.principal = principal.subject;
        line.tenant = principal.tenant;
      }
      logger.info(line, 'call ended');
    };
    return {
      onReceiveMetadata: (metadata, next) => {
        requestId = acceptedRequestId(metadata.get(REQUEST_ID_HEADER)[0]);
        metadata.set(REQUEST_ID_HEADER, requestId);
        received = metadata;
        next(metadata);
      },
      onCancel: () => accessLine('CANCELLED'),
      sendMetadata: (metadata) => {
        headersSent = true;
        metadata.set(REQUEST_ID_HEADER, id());
      },
      sendStatus: (sent) => {
        accessLine(status[sent.code]);
        if (headersSent) return sent;
        const metadata = sent.metadata?.clone() ?? new Metadata();
        metadata.set(REQUEST_ID_HEADER, id());
        return { ...sent, metadata };
      },
    };
  };
}
