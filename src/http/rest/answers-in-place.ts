import { StreamDecoder } from '@grpc/grpc-js/build/src/stream-decoder.js';

/** StreamDecoder's fields and states (grpc-js 1.x, stream-decoder.js), which readInPlace keeps as grpc-js does. */
interface DecoderState {
  readState: number;
  readCompressFlag: Buffer;
  readPartialSize: Buffer;
  readSizeRemaining: number;
  readMessageSize: number;
  readMessageRemaining: number;
  readPartialMessage: Buffer[];
  maxReadMessageLength: number;
  /** The message being read, with its 5-byte prefix: allocated once its length is known, filled as its data arrives. */
  inPlace?: Buffer;
}
const NO_DATA = 0;
const READING_SIZE = 1;
const READING_MESSAGE = 2;

const IN_PLACE = Symbol.for('provenance.answersInPlace');

/**
 * Has grpc-js clients in this process write each message they receive
 * into its buffer as its data arrives. grpc-js keeps the chunks of a
 * message and joins them (Buffer.concat) once the last one has come: for
 * the REST gateway, which reads the gRPC answer of its twin, a whole
 * ancestry's answer (tens of MB) was joined in one block of 50 to 300 ms
 * on the shared 2-core machine, holding every call beside it
 * (docs/decisions.md, "Large lineage answers"). Here the buffer is made
 * when the message's length is read (after grpc-js's check against the
 * largest message the client takes) and each chunk is copied in when it
 * comes, so the copy is spread over the chunks' turns. The messages are
 * the same bytes.
 *
 * grpc-js has no public hook for this: its decoder's write is replaced,
 * once per process, by one that keeps its fields and states. A grpc-js
 * whose decoder does not have them (a later version) is left as it is.
 */
export function receiveAnswersInPlace(): void {
  const prototype = StreamDecoder.prototype as unknown as { write(data: Buffer): Buffer[]; [IN_PLACE]?: true };
  if (prototype[IN_PLACE] || !hasKnownState(new StreamDecoder(-1) as unknown as DecoderState)) return;
  prototype.write = function (this: DecoderState, data: Buffer): Buffer[] {
    return readInPlace(this, data);
  };
  prototype[IN_PLACE] = true;
}

function hasKnownState(decoder: DecoderState): boolean {
  return (
    decoder.readState === NO_DATA &&
    Buffer.isBuffer(decoder.readPartialSize) &&
    decoder.readPartialSize.length === 4 &&
    decoder.readSizeRemaining === 4 &&
    Array.isArray(decoder.readPartialMessage) &&
    decoder.maxReadMessageLength === -1
  );
}

/** StreamDecoder.write, with the message's bytes copied into its framed buffer as they come. */
function readInPlace(decoder: DecoderState, data: Buffer): Buffer[] {
  let readHead = 0;
  const messages: Buffer[] = [];
  while (readHead < data.length) {
    switch (decoder.readState) {
      case NO_DATA:
        decoder.readCompressFlag = data.subarray(readHead, readHead + 1);
        readHead += 1;
        decoder.readState = READING_SIZE;
        decoder.readPartialSize.fill(0);
        decoder.readSizeRemaining = 4;
        decoder.readMessageSize = 0;
        decoder.readMessageRemaining = 0;
        break;
      case READING_SIZE: {
        const toRead = Math.min(data.length - readHead, decoder.readSizeRemaining);
        data.copy(decoder.readPartialSize, 4 - decoder.readSizeRemaining, readHead, readHead + toRead);
        decoder.readSizeRemaining -= toRead;
        readHead += toRead;
        if (decoder.readSizeRemaining > 0) break;
        decoder.readMessageSize = decoder.readPartialSize.readUInt32BE(0);
        if (decoder.maxReadMessageLength !== -1 && decoder.readMessageSize > decoder.maxReadMessageLength) {
          throw new Error(`Received message larger than max (${decoder.readMessageSize} vs ${decoder.maxReadMessageLength})`);
        }
        decoder.readMessageRemaining = decoder.readMessageSize;
        const framed = Buffer.allocUnsafe(decoder.readMessageSize + 5);
        framed[0] = decoder.readCompressFlag[0]!;
        decoder.readPartialSize.copy(framed, 1);
        if (decoder.readMessageSize > 0) {
          decoder.inPlace = framed;
          decoder.readState = READING_MESSAGE;
        } else {
          decoder.readState = NO_DATA;
          messages.push(framed);
        }
        break;
      }
      case READING_MESSAGE: {
        const framed = decoder.inPlace!;
        const toRead = Math.min(data.length - readHead, decoder.readMessageRemaining);
        data.copy(framed, framed.length - decoder.readMessageRemaining, readHead, readHead + toRead);
        decoder.readMessageRemaining -= toRead;
        readHead += toRead;
        if (decoder.readMessageRemaining === 0) {
          decoder.inPlace = undefined;
          decoder.readState = NO_DATA;
          messages.push(framed);
        }
        break;
      }
      default:
        throw new Error('Unexpected read state');
    }
  }
  return messages;
}
