import type { ServiceDefinition } from '@grpc/grpc-js';
import { invalidArgument } from '../domain/errors.js';
import type { RequestFieldProblem } from './request-fields.js';

/**
 * grpc-js answers a request it cannot decode with INTERNAL. Such a request
 * is bad input, e.g. a payload nested deeper than protobuf's recursion limit
 * of 100 message levels (about 30 levels of JSON in a Struct), so the
 * decoders of this definition hand the handler an UndecodableRequest
 * instead, and the handler answers INVALID_ARGUMENT. So is a request of more
 * fields than PROVENANCE_MAX_REQUEST_FIELDS, which is not decoded at all
 * (request-fields.ts says why).
 */
export class UndecodableRequest {
  constructor(
    readonly description: string,
    readonly field = 'request',
  ) {}

  toError() {
    return invalidArgument([{ field: this.field, description: this.description }]);
  }
}

/** What a request of more fields than the limit is told, over gRPC and REST alike. */
export function tooManyFieldsDescription(maxFields: number): string {
  return `holds more than ${maxFields} fields, nested ones included (PROVENANCE_MAX_REQUEST_FIELDS): send it in smaller parts`;
}

export interface DecodingLimits {
  /** The most fields a request may hold, nested ones included. */
  maxFields: number;
  /** The field counter of each method's requests, by method path. */
  fieldCounters: ReadonlyMap<string, (bytes: Uint8Array, limit: number) => number>;
  /** The check of the Timestamp fields of each method's requests that has some, by method path (request-fields.ts). */
  timestampChecks: ReadonlyMap<string, (bytes: Uint8Array) => RequestFieldProblem | undefined>;
  /** The check that every google.protobuf.Value of a request has its kind, for each method's requests that can hold one (request-fields.ts). */
  valueChecks: ReadonlyMap<string, (bytes: Uint8Array) => RequestFieldProblem | undefined>;
}

export function decodingFailuresAsValues<S extends ServiceDefinition>(definition: S, limits: DecodingLimits): S {
  const methods = Object.entries(definition).map(([name, method]) => {
    const countFields = limits.fieldCounters.get(method.path);
    const checkTimestamps = limits.timestampChecks.get(method.path);
    const checkValues = limits.valueChecks.get(method.path);
    return [
      name,
      {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          if (countFields && countFields(bytes, limits.maxFields) > limits.maxFields) {
            return new UndecodableRequest(tooManyFieldsDescription(limits.maxFields));
          }
          const problem = checkTimestamps?.(bytes) ?? checkValues?.(bytes);
          if (problem) return new UndecodableRequest(problem.description, problem.field);
          try {
            return method.requestDeserialize(bytes);
          } catch (error) {
            return new UndecodableRequest(`cannot be decoded: ${error instanceof Error ? error.message : String(error)}`);
          }
        },
      },
    ];
  });
  return Object.fromEntries(methods) as S;
}
