import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { durationMs } from './durations.js';
import { BadRequest, ErrorInfo, PreconditionFailure, ResourceInfo, RetryInfo } from './gen/google/rpc/error_details.js';
import { Status } from './gen/google/rpc/status.js';

/**
 * A google.rpc.Status with the details the service sends decoded: every
 * error carries an ErrorInfo (domain "provenance.v1" and a stable reason),
 * and, where they apply, the others.
 */
export interface StatusDetails {
  code: status;
  message: string;
  errorInfo?: ErrorInfo;
  badRequest?: BadRequest;
  preconditionFailure?: PreconditionFailure;
  resourceInfo?: ResourceInfo;
  retryInfo?: RetryInfo;
}

const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** Decodes the details of a google.rpc.Status, e.g. the per-request status of a BatchRecordJobs result. */
export function decodeStatus(rpcStatus: Status): StatusDetails {
  const find = <T>(name: string, type: { decode(bytes: Uint8Array): T }): T | undefined => {
    const packed = rpcStatus.details.find((detail) => detail.typeUrl === `type.googleapis.com/google.rpc.${name}`);
    return packed ? type.decode(packed.value) : undefined;
  };
  const details: StatusDetails = { code: rpcStatus.code, message: rpcStatus.message };
  const errorInfo = find('ErrorInfo', ErrorInfo);
  const badRequest = find('BadRequest', BadRequest);
  const preconditionFailure = find('PreconditionFailure', PreconditionFailure);
  const resourceInfo = find('ResourceInfo', ResourceInfo);
  const retryInfo = find('RetryInfo', RetryInfo);
  if (errorInfo) details.errorInfo = errorInfo;
  if (badRequest) details.badRequest = badRequest;
  if (preconditionFailure) details.preconditionFailure = preconditionFailure;
  if (resourceInfo) details.resourceInfo = resourceInfo;
  if (retryInfo) details.retryInfo = retryInfo;
  return details;
}

/**
 * The google.rpc.Status a failed call carried in its grpc-status-details-bin
 * trailer, decoded; undefined when there is none (UNAUTHENTICATED carries no
 * detail by design, and statuses made by the client library itself, such as
 * DEADLINE_EXCEEDED or CANCELLED, carry none). Takes a ProvenanceClientError
 * or a grpc-js ServiceError (from `client.raw`).
 */
export function statusDetails(error: unknown): StatusDetails | undefined {
  const metadata = (error as { metadata?: unknown } | null | undefined)?.metadata;
  if (!isMetadata(metadata)) return undefined;
  const [bytes] = metadata.get(STATUS_DETAILS_KEY);
  return bytes instanceof Uint8Array ? decodeStatus(Status.decode(bytes)) : undefined;
}

/**
 * How every method of ProvenanceClient fails. It is a grpc-js ServiceError
 * (code, details, metadata), with the status details already decoded.
 */
export class ProvenanceClientError extends Error implements ServiceError {
  override readonly name = 'ProvenanceClientError';
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;
  /** The decoded google.rpc.Status; see statusDetails() for when it is absent. */
  readonly statusDetails: StatusDetails | undefined;

  constructor(error: StatusObject & { message?: string; stack?: string }) {
    super(error.message ?? `${error.code} ${status[error.code]}: ${error.details}`, { cause: error });
    this.code = error.code;
    this.details = error.details;
    this.metadata = error.metadata;
    this.statusDetails = statusDetails(error);
    // grpc-js's stack ends with the stack of the code that made the call, which is the useful one.
    if (error.stack) this.stack = error.stack.replace(/^Error/, this.name);
  }

  /** The stable reason of the ErrorInfo, e.g. "JOB_NOT_FOUND" or "SUBSCRIBER_TOO_SLOW". */
  get reason(): string | undefined {
    return this.statusDetails?.errorInfo?.reason;
  }

  /** How long the server asks the caller to wait before retrying (RetryInfo), in milliseconds. */
  get retryDelayMs(): number | undefined {
    return durationMs(this.statusDetails?.retryInfo?.retryDelay);
  }
}

/** Wraps what a grpc-js call failed with; anything else (a bug, a throwing token provider) passes through unchanged. */
export function toClientError(error: unknown): unknown {
  if (error instanceof ProvenanceClientError) return error;
  if (!(error instanceof Error)) return error;
  const candidate = error as Error & Partial<ServiceError>;
  return typeof candidate.code === 'number' && isMetadata(candidate.metadata) ? new ProvenanceClientError(candidate as ServiceError) : error;
}

/** By shape rather than instanceof: an application may hold errors from another copy of grpc-js. */
function isMetadata(value: unknown): value is Metadata {
  return typeof (value as Partial<Metadata> | null | undefined)?.get === 'function';
}

/** The error of a call the client ended itself (an aborted signal), shaped like grpc-js's own. */
export function cancelledOnClient(): ProvenanceClientError {
  return new ProvenanceClientError({ code: status.CANCELLED, details: 'Cancelled on client', metadata: new Metadata() });
}
