import { randomUUID } from 'node:crypto';

/** The header (gRPC metadata key, HTTP header) that carries a request's id both ways. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller may send as its own id: short, and harmless in a log line or a header. */
const WELL_FORMED = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/** The caller's id when it is well-formed (so that its own logs and ours line up), else a fresh one. */
export function acceptedRequestId(incoming: unknown): string {
  return typeof incoming === 'string' && WELL_FORMED.test(incoming) ? incoming : randomUUID();
}
