import type { ServiceDefinition } from '@grpc/grpc-js';
import { invalidArgument } from '../domain/errors.js';

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
  constructor(readonly description: string) {}

  toError() {
    return invalidArgument([{ field: 'request', description: this.description }]);
  }
}

export interface DecodingLimits {
  /** The most fields a request may hold, nested ones included. */
  maxFields: number;
  /** The field counter of each method's requests, by method path. */
  fieldCounters: ReadonlyMap<string, (bytes: Uint8Array, limit: number) => number>;
}

export function decodingFailuresAsValues<S extends ServiceDefinition>(definition: S, limits: DecodingLimits): S {
  const methods = Object.entries(definition).map(([name, method]) => {
    const countFields = limits.fieldCounters.get(method.path);
    return [
      name,
      {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          if (countFields && countFields(bytes, limits.maxFields) > limits.maxFields) {
            return new UndecodableRequest(`holds more than ${limits.maxFields} fields, nested ones included (PROVENANCE_MAX_REQUEST_FIELDS): send it in smaller parts`);
          }
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
