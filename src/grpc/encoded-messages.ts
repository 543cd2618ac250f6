import type { ServiceDefinition } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { nextTurn, TurnClock } from '../service/next-turn.js';

/**
 * A response message already encoded, written as it is. A WatchEvents event
 * goes to every subscriber of the process: encoding it once, rather than
 * once per subscriber, took a third of the server's time with 100
 * subscribers (bench/, events scenario). A large unary answer (GetLineage)
 * is encoded in parts between which other calls run (encodeInParts); a
 * GetJob answer at once, into its frame (encodeWhole).
 */
export class EncodedMessage {
  constructor(
    readonly bytes: Buffer,
    /** The tenants of the jobs of the answer that its call's audit entry names (call.ts, shownTenants), which the audit then need not look up. */
    readonly shownTenants: ReadonlyMap<string, string> = new Map(),
    /**
     * The gRPC frame of the message: its 5-byte prefix, then bytes (which
     * is a view of it). A large answer is joined with room for the prefix,
     * so that grpc-js writes it as it is rather than copying it into a
     * frame of its own in one block (framed-answers.ts).
     */
    readonly frame?: Buffer,
  ) {}

  /** The message whose gRPC frame is frame (frameInTurns). */
  static framed(frame: Buffer, shownTenants?: ReadonlyMap<string, string>): EncodedMessage {
    return new EncodedMessage(frame.subarray(GRPC_PREFIX_BYTES), shownTenants, frame);
  }
}

/**
 * Several messages of a server stream, each in its gRPC frame, one after the
 * other: grpc-js writes them to HTTP/2 in one write, which the client reads
 * as the messages one by one. Only a server that sends framed answers as
 * they are (framed-answers.ts, framedAnswersSent) may be given one: grpc-js
 * would otherwise frame them as one message.
 */
export class FramedMessages {
  constructor(readonly frames: Buffer) {}
}

/** A gRPC message's prefix: its compressed flag (1 byte) and its length (4 bytes, big-endian). */
export const GRPC_PREFIX_BYTES = 5;

/** The definition, with methods that accept an EncodedMessage in place of a response. */
export function acceptingEncodedMessages<S extends ServiceDefinition>(definition: S): S {
  const methods = Object.entries(definition).map(([name, method]) => [
    name,
    { ...method, responseSerialize: (value: unknown) => (value instanceof EncodedMessage ? value.bytes : method.responseSerialize(value)) },
  ]);
  return Object.fromEntries(methods) as S;
}

/**
 * The writer of the small answers encoded whole (encodeWhole), kept between
 * calls: a fresh writer starts at 128 bytes and doubles, copying, up to the
 * answer's size, on every call.
 */
let wholeWriter = new BinaryWriter();
/** A writer grown past this is dropped after its answer, so that one large answer does not hold its buffer for good. */
const KEPT_WRITER_BYTES = 64 * 1024;

/**
 * A small answer encoded at once, in its gRPC frame (EncodedMessage.framed),
 * so that grpc-js sends the frame as it is instead of copying the message
 * into one (framed-answers.ts). For answers of one record (GetJob); large
 * ones are encoded in parts (encodeInParts).
 */
export function encodeWhole<T>(type: { encode(message: T, writer: BinaryWriter): BinaryWriter }, message: T, shownTenants?: ReadonlyMap<string, string>): EncodedMessage {
  let bytes: Uint8Array;
  try {
    bytes = type.encode(message, wholeWriter).finish();
  } catch (error) {
    // What was written of the message must not open the next answer.
    wholeWriter = new BinaryWriter();
    throw error;
  }
  if (bytes.byteLength > KEPT_WRITER_BYTES) wholeWriter = new BinaryWriter();
  const frame = allocateFrame(bytes.byteLength);
  frame.set(bytes, GRPC_PREFIX_BYTES);
  return EncodedMessage.framed(frame, shownTenants);
}

/**
 * A message given as parts, each a message of the same type whose encoding
 * is a run of the whole one's fields, in field order: their encodings, one
 * after the other, are the whole message's bytes. The event loop turns
 * once TURN_BUDGET_MS is spent (TurnClock; never after the last part, so an
 * answer of a few parts, a part taking 1 to 2 ms, is encoded without
 * turns), so that one large answer (grpc-js serializes a response in one
 * call) never holds the calls beside it for longer than that and a part take
 * (docs/decisions.md, "Large lineage answers"). Each part is encoded on its
 * own, by one writer whose buffer grows to the largest part only, and the
 * parts are joined in turns (joinInTurns). Parts may come asynchronously: a
 * part of the FULL view reads its records when it is asked for.
 */
export async function encodeInParts<T>(
  type: { encode(message: T, writer: BinaryWriter): BinaryWriter },
  parts: Iterable<T> | AsyncIterable<T>,
  shownTenants?: ReadonlyMap<string, string>,
): Promise<EncodedMessage> {
  const writer = new BinaryWriter();
  const encoded: Uint8Array[] = [];
  const clock = new TurnClock();
  for await (const part of parts) {
    if (clock.due()) await clock.turn();
    encoded.push(type.encode(part, writer).finish());
  }
  return EncodedMessage.framed(await frameInTurns(encoded), shownTenants);
}

/**
 * Bytes written into an answer's buffer between two turns of the event
 * loop (joinInTurns). The first write to a fresh buffer of tens of MB pays
 * for its pages then: a 70 MB copy took 0.3 to 0.8 s on the shared 2-core
 * machine (against 10 to 30 ms into pages already touched), so a MiB takes
 * a few milliseconds at worst.
 */
export const JOIN_STEP_BYTES = 1024 * 1024;

/**
 * The pieces one after the other in one Buffer, about stepBytes written
 * between two turns of the event loop: joining a large answer (tens of MB)
 * in one call held the calls beside it for as long as its copy took
 * (docs/decisions.md, "Large lineage answers").
 */
export function joinInTurns(pieces: readonly Uint8Array[], stepBytes = JOIN_STEP_BYTES): Promise<Buffer> {
  return joinAfter(0, pieces, stepBytes);
}

/**
 * The pieces joined in turns as joinInTurns joins them, as one
 * uncompressed gRPC message: after its prefix (EncodedMessage.framed).
 */
export async function frameInTurns(pieces: readonly Uint8Array[], stepBytes = JOIN_STEP_BYTES): Promise<Buffer> {
  return withPrefix(await joinAfter(GRPC_PREFIX_BYTES, pieces, stepBytes));
}

/** A frame for an uncompressed message of messageBytes bytes, its prefix written, the message's bytes left for the caller to write after it. */
export function allocateFrame(messageBytes: number): Buffer {
  return withPrefix(Buffer.allocUnsafe(GRPC_PREFIX_BYTES + messageBytes));
}

function withPrefix(frame: Buffer): Buffer {
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(frame.byteLength - GRPC_PREFIX_BYTES, 1);
  return frame;
}

/** The pieces one after the other in one Buffer, after headroom bytes left for the caller to write. */
async function joinAfter(headroom: number, pieces: readonly Uint8Array[], stepBytes: number): Promise<Buffer> {
  let total = headroom;
  for (const piece of pieces) total += piece.byteLength;
  const joined = Buffer.allocUnsafe(total);
  let offset = headroom;
  let sinceTurn = 0;
  const written = async (bytes: number) => {
    offset += bytes;
    sinceTurn += bytes;
    if (sinceTurn < stepBytes) return;
    sinceTurn = 0;
    await nextTurn();
  };
  for (const piece of pieces) {
    for (let from = 0; from < piece.byteLength; from += stepBytes) {
      const part = piece.subarray(from, from + stepBytes);
      joined.set(part, offset);
      await written(part.byteLength);
    }
  }
  return joined;
}
