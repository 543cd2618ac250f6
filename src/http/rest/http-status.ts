import { status } from '@grpc/grpc-js';
import type { Any } from '@provenance/client/gen/google/protobuf/any';
import { BadRequest, ErrorInfo, PreconditionFailure, ResourceInfo, RetryInfo } from '@provenance/client/gen/google/rpc/error_details';
import type { Status } from '@provenance/client/gen/google/rpc/status';
import type { Logger } from 'pino';
import { ProvenanceError } from '../../domain/errors.js';
import { toRpcStatus } from '../../grpc/errors.js';
import type { HttpResponse } from '../server.js';
import { durationString } from './durations.js';

/** gRPC status codes as HTTP statuses, as Google's HTTP mapping has them (google/rpc/code.proto). */
const HTTP_STATUS: Record<number, number> = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 400,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.UNAUTHENTICATED]: 401,
};

const DETAIL_CODECS: Record<string, { decode(bytes: Uint8Array): unknown; toJSON(message: never): unknown }> = {
  'type.googleapis.com/google.rpc.ErrorInfo': ErrorInfo,
  'type.googleapis.com/google.rpc.BadRequest': BadRequest,
  'type.googleapis.com/google.rpc.PreconditionFailure': PreconditionFailure,
  'type.googleapis.com/google.rpc.ResourceInfo': ResourceInfo,
  'type.googleapis.com/google.rpc.RetryInfo': RetryInfo,
};

export function httpStatusOf(code: number): number {
  return HTTP_STATUS[code] ?? 500;
}

/**
 * The JSON error body of Google's HTTP APIs: the HTTP status (the one the
 * gRPC status maps to, unless the answer has a more precise one, e.g. 413),
 * the message, the gRPC status name and the google.rpc details, each with
 * its "@type".
 */
export function errorBody(rpcStatus: Status, httpStatus = httpStatusOf(rpcStatus.code)): { error: { code: number; message: string; status: string; details: unknown[] } } {
  return {
    error: {
      code: httpStatus,
      message: rpcStatus.message,
      status: status[rpcStatus.code] ?? 'UNKNOWN',
      details: rpcStatus.details.map(detailJson),
    },
  };
}

/** When RetryInfo says how long to wait, in whole seconds for a Retry-After header. */
export function retryAfterSeconds(rpcStatus: Status): number | undefined {
  const retry = rpcStatus.details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.RetryInfo');
  const delay = retry && RetryInfo.decode(retry.value).retryDelay;
  return delay ? Math.max(1, Math.ceil(Number(delay.seconds) + delay.nanos / 1e9)) : undefined;
}

function detailJson(detail: Any): unknown {
  const codec = DETAIL_CODECS[detail.typeUrl];
  if (!codec) return { '@type': detail.typeUrl, value: Buffer.from(detail.value).toString('base64') };
  const json = codec.toJSON(codec.decode(detail.value) as never) as Record<string, unknown>;
  // RetryInfo's delay is a google.protobuf.Duration: a string in the JSON mapping.
  if (codec === RetryInfo) json.retryDelay = durationString(RetryInfo.decode(detail.value).retryDelay ?? {});
  return { '@type': detail.typeUrl, ...json };
}

/** A failed call's answer: the HTTP status its gRPC status maps to, Google's error body, and the headers its status calls for. */
export function statusResponse(rpcStatus: Status): HttpResponse {
  const headers: Record<string, string> = {};
  const retryAfter = retryAfterSeconds(rpcStatus);
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  if (rpcStatus.code === status.UNAUTHENTICATED) headers['WWW-Authenticate'] = 'Bearer';
  return { ...errorResponse(httpStatusOf(rpcStatus.code), rpcStatus), headers };
}

/** Google's error body under an HTTP status of the caller's choice (e.g. 413 for a body over the limit). */
export function errorResponse(httpStatus: number, rpcStatus: Status): HttpResponse {
  return { status: httpStatus, contentType: 'application/json', body: `${JSON.stringify(errorBody(rpcStatus, httpStatus))}\n` };
}

/** An error of the HTTP listener itself (no route, a target that is no URL), in the body every error of the listener has, under that HTTP status. */
export function listenerError(httpStatus: number, error: ProvenanceError, log: Logger): HttpResponse {
  return errorResponse(httpStatus, toRpcStatus(error, 'HTTP', log));
}

/**
 * 405 with Allow for a method the path does not take (HEAD goes wherever
 * GET does). Its gRPC status is INVALID_ARGUMENT, naming the method: the
 * request is wrong whatever the server's state, while UNIMPLEMENTED (501)
 * would say the server lacks something; reason METHOD_NOT_ALLOWED.
 */
export function methodNotAllowed(method: string, path: string, allowed: readonly string[], log: Logger): HttpResponse {
  const methods = allowed.flatMap((allowedMethod) => (allowedMethod === 'GET' ? ['GET', 'HEAD'] : [allowedMethod]));
  const description = `${method} is not allowed on ${path}; allowed: ${methods.join(', ')}`;
  const error = new ProvenanceError('INVALID_ARGUMENT', description, 'METHOD_NOT_ALLOWED', { fieldViolations: [{ field: 'method', description }], metadata: { allowed: methods.join(', ') } });
  return { ...listenerError(405, error, log), headers: { Allow: methods.join(', ') } };
}
