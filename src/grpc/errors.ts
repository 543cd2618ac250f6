import { randomBytes } from 'node:crypto';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ERROR_BOUNDS, ProvenanceError, truncated } from '../domain/errors.js';
import type { Any } from '@provenance/client/gen/google/protobuf/any';
import { BadRequest, ErrorInfo, PreconditionFailure, ResourceInfo, RetryInfo } from '@provenance/client/gen/google/rpc/error_details';
import { Status } from '@provenance/client/gen/google/rpc/status';

/**
 * Turns whatever a handler threw into what the caller sees. A
 * ProvenanceError becomes its status with google.rpc details (ErrorInfo
 * always; BadRequest, PreconditionFailure, ResourceInfo, RetryInfo when they
 * apply) in the grpc-status-details-bin trailer. Anything else is an
 * internal error: logged with a fresh error id, and masked for the caller
 * behind that id.
 */

export const ERROR_DOMAIN = 'provenance.v1';
const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

export function toServiceError(error: unknown, method: string, logger: Logger): ServiceError {
  const rpcStatus = toRpcStatus(error, method, logger);
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(Status.encode(rpcStatus).finish()));
  return Object.assign(new Error(rpcStatus.message), { code: rpcStatus.code, details: rpcStatus.message, metadata });
}

/**
 * The google.rpc.Status of an error; also used on its own for the per-record
 * results of a batch. Every status passes here, so this is where what it
 * carries is bounded (ERROR_BOUNDS): the first violations, the number left
 * out in ErrorInfo's metadata (omittedFieldViolations,
 * omittedPreconditionViolations), every text cut to its length.
 */
export function toRpcStatus(error: unknown, method: string, logger: Logger): Status {
  const known = error instanceof ProvenanceError ? error : maskInternal(error, method, logger);
  if (known.code === 'UNAVAILABLE') logger.warn({ err: known.cause ?? known, method }, known.message);
  const { details } = known;
  const budget = { count: ERROR_BOUNDS.violations, bytes: ERROR_BOUNDS.violationBytes };
  const fieldViolations = firstViolations(details.fieldViolations ?? [], budget);
  const preconditionViolations = firstViolations(details.preconditionViolations ?? [], budget);
  const metadata = boundedTexts({
    ...details.metadata,
    ...(fieldViolations.omitted > 0 ? { omittedFieldViolations: String(fieldViolations.omitted) } : {}),
    ...(preconditionViolations.omitted > 0 ? { omittedPreconditionViolations: String(preconditionViolations.omitted) } : {}),
  });
  const packed: Any[] = [pack('google.rpc.ErrorInfo', ErrorInfo.encode({ reason: known.reason, domain: ERROR_DOMAIN, metadata }).finish())];
  if (fieldViolations.listed.length > 0) {
    packed.push(pack('google.rpc.BadRequest', BadRequest.encode({ fieldViolations: fieldViolations.listed.map((v) => ({ ...v, reason: '' })) }).finish()));
  }
  if (preconditionViolations.listed.length > 0) {
    packed.push(pack('google.rpc.PreconditionFailure', PreconditionFailure.encode({ violations: preconditionViolations.listed }).finish()));
  }
  if (details.resource) {
    packed.push(pack('google.rpc.ResourceInfo', ResourceInfo.encode({ ...boundedTexts(details.resource), owner: '', description: '' }).finish()));
  }
  if (details.retryDelayMs !== undefined) {
    const retryDelay = { seconds: String(Math.floor(details.retryDelayMs / 1000)), nanos: (details.retryDelayMs % 1000) * 1_000_000 };
    packed.push(pack('google.rpc.RetryInfo', RetryInfo.encode({ retryDelay }).finish()));
  }
  return { code: status[known.code], message: wellFormed(truncated(known.message, ERROR_BOUNDS.messageBytes)), details: packed };
}

/**
 * The text with any lone surrogate (half of a character) replaced by U+FFFD:
 * grpc-js sends the message through encodeURI, which throws on one outside
 * any handler, and the process exits. A message that echoes input cut at a
 * UTF-16 unit must not be able to do that.
 */
function wellFormed(text: string): string {
  return text.replace(/\p{Cs}/gu, '\ufffd');
}

/** The first violations that fit what is left of the budget (which they use up), their texts cut; and how many did not fit. */
function firstViolations<T extends object>(violations: readonly T[], budget: { count: number; bytes: number }): { listed: T[]; omitted: number } {
  const listed: T[] = [];
  for (const violation of violations) {
    const bounded = boundedTexts(violation);
    const bytes = Object.values(bounded).reduce((sum: number, value) => sum + (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0), 0);
    if (budget.count === 0 || bytes > budget.bytes) break;
    listed.push(bounded);
    budget.count -= 1;
    budget.bytes -= bytes;
  }
  return { listed, omitted: violations.length - listed.length };
}

/** The object with each of its strings cut to ERROR_BOUNDS.textBytes. */
function boundedTexts<T extends object>(texts: T): T {
  return Object.fromEntries(Object.entries(texts).map(([key, value]) => [key, typeof value === 'string' ? truncated(value, ERROR_BOUNDS.textBytes) : value])) as T;
}

export const OK_STATUS: Status = { code: status.OK, message: '', details: [] };

function maskInternal(error: unknown, method: string, logger: Logger): ProvenanceError {
  const errorId = randomBytes(8).toString('hex');
  logger.error({ err: error, errorId, method }, 'internal error');
  return new ProvenanceError('INTERNAL', `internal error (error id ${errorId}); the server log has the details`, 'INTERNAL', {
    metadata: { errorId },
  });
}

function pack(typeName: string, value: Uint8Array): Any {
  return { typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(value) };
}
