import { randomBytes } from 'node:crypto';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ProvenanceError } from '../domain/errors.js';
import type { Any } from '../gen/google/protobuf/any.js';
import { BadRequest, ErrorInfo, PreconditionFailure, ResourceInfo, RetryInfo } from '../gen/google/rpc/error_details.js';
import { Status } from '../gen/google/rpc/status.js';

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

/** The google.rpc.Status of an error; also used on its own for the per-record results of a batch. */
export function toRpcStatus(error: unknown, method: string, logger: Logger): Status {
  const known = error instanceof ProvenanceError ? error : maskInternal(error, method, logger);
  if (known.code === 'UNAVAILABLE') logger.warn({ err: known.cause ?? known, method }, known.message);
  const { details } = known;
  const packed: Any[] = [
    pack('google.rpc.ErrorInfo', ErrorInfo.encode({ reason: known.reason, domain: ERROR_DOMAIN, metadata: details.metadata ?? {} }).finish()),
  ];
  if (details.fieldViolations?.length) {
    const fieldViolations = details.fieldViolations.map((v) => ({ field: v.field, description: v.description, reason: '' }));
    packed.push(pack('google.rpc.BadRequest', BadRequest.encode({ fieldViolations }).finish()));
  }
  if (details.preconditionViolations?.length) {
    packed.push(pack('google.rpc.PreconditionFailure', PreconditionFailure.encode({ violations: details.preconditionViolations }).finish()));
  }
  if (details.resource) {
    packed.push(pack('google.rpc.ResourceInfo', ResourceInfo.encode({ ...details.resource, owner: '', description: '' }).finish()));
  }
  if (details.retryDelayMs !== undefined) {
    const retryDelay = { seconds: String(Math.floor(details.retryDelayMs / 1000)), nanos: (details.retryDelayMs % 1000) * 1_000_000 };
    packed.push(pack('google.rpc.RetryInfo', RetryInfo.encode({ retryDelay }).finish()));
  }
  return { code: status[known.code], message: known.message, details: packed };
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
