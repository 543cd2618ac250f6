import type { Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { REQUEST_ID_HEADER } from '../platform/request-id.js';

/**
 * The request-id interceptor replaces what the client sent under
 * x-request-id with the id the call goes by; handlers read it from there.
 */
export function requestIdOf(metadata: Metadata): string | undefined {
  const [value] = metadata.get(REQUEST_ID_HEADER);
  return typeof value === 'string' ? value : undefined;
}

/** The logger of one call: every line it writes names the call's request id. */
export function requestLogger(logger: Logger, metadata: Metadata): Logger {
  const requestId = requestIdOf(metadata);
  return requestId ? logger.child({ requestId }) : logger;
}
