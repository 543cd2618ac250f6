import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { acceptedRequestId, REQUEST_ID_HEADER } from '../../platform/request-id.js';

/**
 * Gives every call a request id: the client's x-request-id when it is
 * well-formed, else a fresh one. Handlers find it in the call's metadata
 * (request-id-metadata.ts) and log under it; the client gets it back in the
 * response headers, or in the trailers of a call refused before any header
 * was sent. The end of each call is logged under it at debug level. Runs
 * first, so that the other interceptors' log lines can name it too.
 */
export function requestIdInterceptor(logger: Logger): ServerInterceptor {
  return (method, call) => {
    const started = performance.now();
    let requestId: string | undefined;
    /** Normally the one taken from the metadata; a call refused before its metadata was read still gets one. */
    const id = () => (requestId ??= acceptedRequestId(undefined));
    let headersSent = false;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            requestId = acceptedRequestId(metadata.get(REQUEST_ID_HEADER)[0]);
            metadata.set(REQUEST_ID_HEADER, requestId);
            nextMetadata(metadata);
          },
        }),
      sendMetadata: (metadata, next) => {
        headersSent = true;
        metadata.set(REQUEST_ID_HEADER, id());
        next(metadata);
      },
      sendStatus: (sent, next) => {
        logger.debug({ requestId: id(), method: method.path, code: status[sent.code], durationMs: Math.round(performance.now() - started) }, 'call ended');
        if (headersSent) return next(sent);
        const metadata = sent.metadata?.clone() ?? new Metadata();
        metadata.set(REQUEST_ID_HEADER, id());
        next({ ...sent, metadata });
      },
    });
  };
}
