import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * A response message already encoded, written as it is. A WatchEvents event
 * goes to every subscriber of the process: encoding it once, rather than
 * once per subscriber, took a third of the server's time with 100
 * subscribers (bench/, events scenario).
 */
export class EncodedMessage {
  constructor(readonly bytes: Buffer) {}
}

/** The definition, with server streams that accept an EncodedMessage in place of a response. */
export function streamsAcceptingEncodedMessages<S extends ServiceDefinition>(definition: S): S {
  const methods = Object.entries(definition).map(([name, method]) => [
    name,
    method.responseStream
      ? { ...method, responseSerialize: (value: unknown) => (value instanceof EncodedMessage ? value.bytes : method.responseSerialize(value)) }
      : method,
  ]);
  return Object.fromEntries(methods) as S;
}
