/**
 * Errors the domain and the service raise on purpose. Each carries the gRPC
 * status it stands for by name (the domain imports no gRPC library), an
 * AIP-193 reason, and the structured details the transport turns into
 * google.rpc error details. Anything else that is thrown is an internal error.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'UNIMPLEMENTED'
  /** Raised by the transport only: a streaming call whose deadline passed. */
  | 'DEADLINE_EXCEEDED'
  /** Never raised on purpose: the transport masks unexpected errors behind it. */
  | 'INTERNAL';

export interface FieldViolation {
  /** Path of the field in the request, e.g. "parent_job_ids[2]". */
  field: string;
  description: string;
}

export interface PreconditionViolation {
  /** Kind of precondition, e.g. "PARENT_NOT_FOUND" or "LINEAGE_CYCLE". */
  type: string;
  /** What it is about, e.g. "jobs/abc". */
  subject: string;
  description: string;
}

export interface ResourceRef {
  resourceType: string;
  resourceName: string;
}

export interface ErrorDetails {
  fieldViolations?: FieldViolation[];
  preconditionViolations?: PreconditionViolation[];
  resource?: ResourceRef;
  retryDelayMs?: number;
  /** Extra key/value pairs for google.rpc.ErrorInfo.metadata. */
  metadata?: Record<string, string>;
}

export class ProvenanceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** AIP-193 reason, UPPER_SNAKE_CASE, stable for clients to branch on. */
    readonly reason: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'ProvenanceError';
  }
}

export const JOB_RESOURCE = 'provenance.v1.Job';

/**
 * What one error may carry. Its google.rpc.Status travels in the call's
 * trailers, and trailers past a client's limit never arrive: gRPC C-core
 * (Python, C++, ...) refuses received metadata over 8 KiB by default, and
 * grpc-js gives up on trailers of about 110 KiB, hanging its connection. So
 * at most `violations` violations are listed, within `violationBytes`
 * together (the rest are counted), each text within `textBytes`, and the
 * message within `messageBytes`: a whole status stays under 6 KiB.
 * docs/decisions.md, Errors, has the measurements.
 */
export const ERROR_BOUNDS = {
  violations: 20,
  violationBytes: 2048,
  textBytes: 200,
  messageBytes: 512,
} as const;

/** The text cut to at most maxBytes of UTF-8, whole characters only, ending in "…" when cut. */
export function truncated(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const ellipsis = '…';
  let kept = '';
  let bytes = Buffer.byteLength(ellipsis, 'utf8');
  for (const character of text) {
    bytes += Buffer.byteLength(character, 'utf8');
    if (bytes > maxBytes) break;
    kept += character;
  }
  return kept + ellipsis;
}

export function invalidArgument(violations: FieldViolation[]): ProvenanceError {
  // The message names the first violations only (a request can have thousands), and keeps room for saying how many it leaves out.
  const prefix = 'invalid request: ';
  const budget = ERROR_BOUNDS.messageBytes - Buffer.byteLength(prefix) - ' (and 4294967295 more)'.length;
  const named: string[] = [];
  let bytes = 0;
  for (const v of violations) {
    const part = truncated(`${v.field}: ${v.description}`, ERROR_BOUNDS.textBytes);
    bytes += Buffer.byteLength(part, 'utf8') + (named.length > 0 ? 2 : 0);
    if (named.length > 0 && bytes > budget) break;
    named.push(part);
  }
  const more = violations.length - named.length;
  return new ProvenanceError('INVALID_ARGUMENT', `${prefix}${named.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`, 'INVALID_ARGUMENT', {
    fieldViolations: violations,
  });
}

export function jobNotFound(jobId: string): ProvenanceError {
  return new ProvenanceError('NOT_FOUND', `job ${jobId} not found`, 'JOB_NOT_FOUND', {
    resource: jobResource(jobId),
  });
}

export function failedPrecondition(message: string, reason: string, violations: PreconditionViolation[]): ProvenanceError {
  return new ProvenanceError('FAILED_PRECONDITION', message, reason, { preconditionViolations: violations });
}

/** A job that has not finished, refused by a write that must wait until it has (description: what waits, and why), reason NOT_FINISHED. */
export function notFinished(jobId: string, description: string): ProvenanceError {
  return failedPrecondition(description, 'NOT_FINISHED', [{ type: 'NOT_FINISHED', subject: jobName(jobId), description }]);
}

export function parentsNotFound(missing: readonly string[], advice?: string): ProvenanceError {
  return failedPrecondition(
    `parent jobs not found: ${missing.join(', ')}${advice ? ` (${advice})` : ''}`,
    'PARENT_NOT_FOUND',
    missing.map((id) => ({ type: 'PARENT_NOT_FOUND', subject: jobName(id), description: `parent job ${id} does not exist` })),
  );
}

/** Recording jobId with its parents would close the cycle given as a path (jobId, ..., a parent, jobId). */
export function lineageCycle(jobId: string, cycle: readonly string[]): ProvenanceError {
  const path = cycle.join(' → ');
  return failedPrecondition(`recording job ${jobId} with these parents would close a cycle: ${path}`, 'LINEAGE_CYCLE', [
    { type: 'LINEAGE_CYCLE', subject: jobName(jobId), description: path },
  ]);
}

export function unavailable(message: string, retryDelayMs = 1000, reason = 'STORE_UNAVAILABLE'): ProvenanceError {
  return new ProvenanceError('UNAVAILABLE', message, reason, { retryDelayMs });
}

export function jobResource(jobId: string): ResourceRef {
  return { resourceType: JOB_RESOURCE, resourceName: jobName(jobId) };
}

/** Resource name of a job as it appears in error details. */
export function jobName(jobId: string): string {
  return `jobs/${jobId}`;
}

/**
 * An answer larger than one gRPC message may be (PROVENANCE_MAX_MESSAGE_BYTES),
 * refused as what it is: grpc-js would fail it after the work with a bare
 * "Sent message larger than max". Asking again the same way cannot succeed,
 * so it carries no RetryInfo; `advice` says what to ask for instead.
 */
export function answerTooLarge(answerBytes: number, maxBytes: number, advice: string): ProvenanceError {
  return new ProvenanceError('RESOURCE_EXHAUSTED', `the answer is ${answerBytes} bytes, over the ${maxBytes} a message may hold (PROVENANCE_MAX_MESSAGE_BYTES): ${advice}`, 'ANSWER_TOO_LARGE', {
    metadata: { answerBytes: String(answerBytes), maxMessageBytes: String(maxBytes) },
  });
}

/**
 * A write whose answer would be larger than one gRPC message may be, refused
 * before anything is stored: refused after the work, its records would stand
 * while the caller is told they were not. `countedBytes` is what was counted
 * of the answer before it passed the limit.
 */
export function writeAnswerTooLarge(countedBytes: number, maxBytes: number): ProvenanceError {
  return new ProvenanceError(
    'RESOURCE_EXHAUSTED',
    `the answer to this request would be over the ${maxBytes} bytes a message may hold (PROVENANCE_MAX_MESSAGE_BYTES; ${countedBytes} counted): nothing was recorded; send fewer records at a time`,
    'ANSWER_TOO_LARGE',
    { metadata: { answerBytes: String(countedBytes), maxMessageBytes: String(maxBytes) } },
  );
}
