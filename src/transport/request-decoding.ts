import type { ServiceDefinition } from '@grpc/grpc-js';
import { invalidArgument } from '../domain/errors.js';

/**
 * grpc-js answers a request it cannot decode with INTERNAL. Such a request
 * is bad input, e.g. a payload nested deeper than protobuf's recursion limit
 * of 100 message levels (about 30 levels of JSON in a Struct), so the
 * decoders of this definition hand the handler an UndecodableRequest
 * instead, and the handler answers INVALID_ARGUMENT.
 */
export class UndecodableRequest {
  constructor(readonly reason: string) {}

  toError() {
    return invalidArgument([{ field: 'request', description: `cannot be decoded: ${this.reason}` }]);
  }
}

export function decodingFailuresAsValues<S extends ServiceDefinition>(definition: S): S {
  const methods = Object.entries(definition).map(([name, method]) => [
    name,
    {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return new UndecodableRequest(error instanceof Error ? error.message : String(error));
        }
      },
    },
  ]);
  return Object.fromEntries(methods) as S;
}
