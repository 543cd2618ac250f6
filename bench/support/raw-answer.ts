import { Metadata, type ServiceError } from '@grpc/grpc-js';
import type { ProvenanceClient } from '@provenance/client';

/** A unary method of the generated service definition: its path and how its request is written. */
interface UnaryMethod<Request> {
  path: string;
  requestSerialize(request: Request): Buffer;
}

/**
 * A unary call through the client's raw stub, its answer kept as the bytes
 * that travelled, not decoded: for the size of an answer, or for an answer
 * the generated decoding cannot take (a string past the runtime's longest).
 */
export function rawAnswer<Request>(client: ProvenanceClient, method: UnaryMethod<Request>, request: Request, timeoutMs?: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.raw.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      (bytes: Buffer) => bytes,
      request,
      new Metadata(),
      timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs },
      (error: ServiceError | null, bytes?: Buffer) => (error ? reject(error) : resolve(bytes!)),
    ),
  );
}
