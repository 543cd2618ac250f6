import { expect } from 'chai';
import { StreamDecoder } from '@grpc/grpc-js/build/src/stream-decoder.js';
import { receiveAnswersInPlace } from '../../src/http/rest/answers-in-place.js';
import { mulberry32 } from '../support/job-records.js';

type Write = (this: StreamDecoder, data: Buffer) => Buffer[];

/** gRPC frames of messages of these lengths, random bytes. */
function frames(random: () => number, lengths: number[]): { wire: Buffer; messages: Buffer[] } {
  const messages = lengths.map((length) => {
    const framed = Buffer.alloc(length + 5);
    framed.writeUInt32BE(length, 1);
    for (let i = 5; i < framed.length; i++) framed[i] = Math.floor(random() * 256);
    return framed;
  });
  return { wire: Buffer.concat(messages), messages };
}

/** The messages a decoder makes of the wire cut into chunks at random. */
function decoded(write: Write, wire: Buffer, random: () => number, maxChunk: number, maxLength = -1): Buffer[] {
  const decoder = new StreamDecoder(maxLength);
  const messages: Buffer[] = [];
  for (let from = 0; from < wire.length; ) {
    const to = Math.min(wire.length, from + 1 + Math.floor(random() * maxChunk));
    messages.push(...write.call(decoder, wire.subarray(from, to)));
    from = to;
  }
  return messages;
}

describe('answers received in place', () => {
  const grpcJsWrite = StreamDecoder.prototype.write as Write;

  it('makes the messages grpc-js makes, however the data is cut', () => {
    receiveAnswersInPlace();
    receiveAnswersInPlace();
    const inPlace = StreamDecoder.prototype.write as Write;
    expect(inPlace).to.not.equal(grpcJsWrite);
    const random = mulberry32(20261205);
    for (const maxChunk of [1, 3, 7, 100, 70_000]) {
      const { wire, messages } = frames(random, [0, 1, 4, 5, 1000, 0, 65_536, 3, 200_000, 0]);
      const seed = Math.floor(random() * 1e9);
      const ours = decoded(inPlace, wire, mulberry32(seed), maxChunk);
      expect(ours, `chunks up to ${maxChunk}`).to.deep.equal(decoded(grpcJsWrite, wire, mulberry32(seed), maxChunk));
      expect(ours).to.deep.equal(messages);
    }
  });

  it('refuses a message over the largest the client takes, as grpc-js does', () => {
    receiveAnswersInPlace();
    const { wire } = frames(mulberry32(1), [10, 11]);
    expect(() => decoded(StreamDecoder.prototype.write as Write, wire, mulberry32(2), 4, 10)).to.throw('Received message larger than max (11 vs 10)');
  });
});
