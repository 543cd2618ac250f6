import type { ServiceDefinition } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { nextTurn } from '../service/next-turn.js';

/**
 * A response message already encoded, written as it is. A WatchEvents event
 * goes to every subscriber of the process: encoding it once, rather than
 * once per subscriber, took a third of the server's time with 100
 * subscribers (bench/, events scenario). A large unary answer (GetLineage)
 * is encoded in parts between which other calls run (encodeInParts).
 */
export class EncodedMessage {
  constructor(
    readonly bytes: Buffer,
    /** The tenants of the jobs of the answer that its call's audit entry names (call.ts, shownTenants), which the audit then need not look up. */
    readonly shownTenants: ReadonlyMap<string, string> = new Map(),
  ) {}
}

/** The definition, with methods that accept an EncodedMessage in place of a response. */
export function acceptingEncodedMessages<S extends ServiceDefinition>(definition: S): S {
  const methods = Object.entries(definition).map(([name, method]) => [
    name,
    { ...method, responseSerialize: (value: unknown) => (value instanceof EncodedMessage ? value.bytes : method.responseSerialize(value)) },
  ]);
  return Object.fromEntries(methods) as S;
}

/**
 * The longest encodeInParts encodes between two turns of the event loop: a
 * part of a large answer takes 1 to 2 ms, so an answer of a few parts
 * (a GetLineage of a thousand nodes) is encoded without turns, each of
 * which cost it a pass of the loop for nothing.
 */
const ENCODING_MS_PER_TURN = 2;

/**
 * A message given as parts, each a message of the same type whose encoding
 * is a run of the whole one's fields, in field order: their encodings, one
 * after the other, are the whole message's bytes. The event loop turns
 * once ENCODING_MS_PER_TURN is spent (never after the last part), so that
 * one large answer (grpc-js serializes a response in one call) never holds
 * the calls beside it for longer than that and a part take
 * (docs/decisions.md, "Large lineage answers").
 */
export async function encodeInParts<T>(
  type: { encode(message: T, writer: BinaryWriter): BinaryWriter },
  parts: Iterable<T>,
  shownTenants?: ReadonlyMap<string, string>,
): Promise<EncodedMessage> {
  const writer = new BinaryWriter();
  let turnStarted = performance.now();
  for (const part of parts) {
    if (performance.now() - turnStarted >= ENCODING_MS_PER_TURN) {
      await nextTurn();
      turnStarted = performance.now();
    }
    type.encode(part, writer);
  }
  const bytes = writer.finish();
  return new EncodedMessage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), shownTenants);
}
