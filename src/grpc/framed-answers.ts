import { BaseServerInterceptingCall } from '@grpc/grpc-js/build/src/server-interceptors.js';
import { EncodedMessage, FramedMessages } from './encoded-messages.js';

type Serializing = { serializeMessage?: (this: unknown, value: unknown) => Buffer };

const FRAMED = Symbol.for('provenance.framedAnswers');

/**
 * Lets grpc-js send an EncodedMessage that carries its gRPC frame
 * (EncodedMessage.framed) as it is. grpc-js serializes every answer and
 * copies it into a fresh buffer of its size with the 5-byte prefix in one
 * call (serializeMessage); for a whole ancestry's answer (tens of MB) that
 * copy held the event loop 50 to 300 ms on the shared 2-core machine, the
 * longest block beside a full-view GetLineage or an export
 * (docs/decisions.md, "Large lineage answers"). Such answers are joined in
 * turns with room for the prefix (frameInTurns), so nothing is left to copy.
 *
 * grpc-js has no public hook for this: its call's serializeMessage is
 * wrapped, once per process, for framed messages only; every other answer
 * goes the way it went, and so do several messages already framed
 * (FramedMessages: WatchEvents events written together). A grpc-js without
 * that method (a later version) is left as it is, and framed answers are
 * then copied as any other (their bytes are the message), so the wire is
 * the same either way; FramedMessages are then not sent (framedAnswersSent).
 */
export function sendFramedAnswers(): void {
  const prototype = BaseServerInterceptingCall.prototype as unknown as Serializing & { [FRAMED]?: true };
  const serialize = prototype.serializeMessage;
  if (prototype[FRAMED] || typeof serialize !== 'function') return;
  prototype.serializeMessage = function (this: unknown, value: unknown): Buffer {
    if (value instanceof EncodedMessage && value.frame) return value.frame;
    return value instanceof FramedMessages ? value.frames : serialize.call(this, value);
  };
  prototype[FRAMED] = true;
}

/** Whether grpc-js sends framed answers as they are: FramedMessages may be written only then. */
export function framedAnswersSent(): boolean {
  return (BaseServerInterceptingCall.prototype as unknown as { [FRAMED]?: true })[FRAMED] === true;
}
