import { expect } from 'chai';
import { BaseServerInterceptingCall } from '@grpc/grpc-js/build/src/server-interceptors.js';
import { EncodedMessage, frameInTurns, joinInTurns } from '../../src/grpc/encoded-messages.js';
import { sendFramedAnswers } from '../../src/grpc/framed-answers.js';

type Serializing = { serializeMessage(this: unknown, value: unknown): Buffer };

/** grpc-js's serializeMessage, called as a call whose handler serializes with serialize. */
function serializeAsGrpcJs(value: unknown, serialize: (value: unknown) => Buffer): Buffer {
  const call = { handler: { serialize } };
  return (BaseServerInterceptingCall.prototype as unknown as Serializing).serializeMessage.call(call, value);
}

describe('framed answers', () => {
  const pieces = [Uint8Array.of(1, 2, 3), Buffer.from('é → 😀', 'utf8'), Uint8Array.of(255)];

  it('joins the pieces after the gRPC prefix of their length, in turns', async () => {
    const joined = await joinInTurns(pieces);
    const frame = await frameInTurns(pieces, 2);
    expect(frame.subarray(0, 5)).to.deep.equal(Buffer.from([0, 0, 0, 0, joined.length]));
    expect(frame.subarray(5)).to.deep.equal(joined);
    expect(EncodedMessage.framed(frame).bytes).to.deep.equal(joined);
  });

  it('has grpc-js send a framed message as its frame, the bytes it would have framed itself, and everything else as before', async () => {
    sendFramedAnswers();
    sendFramedAnswers();
    const frame = await frameInTurns(pieces);
    const message = EncodedMessage.framed(frame);
    const bytesOf = (value: unknown) => (value instanceof EncodedMessage ? value.bytes : Buffer.from(String(value)));
    expect(serializeAsGrpcJs(message, bytesOf)).to.equal(frame);
    const unframed = new EncodedMessage(message.bytes);
    const copied = serializeAsGrpcJs(unframed, bytesOf);
    expect(copied).to.not.equal(frame);
    expect(copied).to.deep.equal(frame);
    expect(serializeAsGrpcJs('abc', bytesOf)).to.deep.equal(Buffer.from([0, 0, 0, 0, 3, 97, 98, 99]));
  });
});
