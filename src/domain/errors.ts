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

export function invalidArgument(violations: FieldViolation[]): ProvenanceError {
  const summary = violations.map((v) => `${v.field}: ${v.description}`).join('; ');
  return new ProvenanceError('INVALID_ARGUMENT', `invalid request: ${summary}`, 'INVALID_ARGUMENT', {
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

export function parentsNotFound(missing: readonly string[], advice?: string): ProvenanceError {
  return failedPrecondition(
    `parent jobs not found: ${missing.join(', ')}${advice ? ` (${advice})` : ''}`,
    'PARENT_NOT_FOUND',
    missing.map((id) => ({ type: 'PARENT_NOT_FOUND', subject: jobName(id), description: `parent job ${id} does not exist` })),
  );
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
