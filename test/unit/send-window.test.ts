import { expect } from 'chai';
import { Metadata, type ServerInterceptingCallInterface, type ServerMethodDefinition } from '@grpc/grpc-js';
import { EncodedMessage, FramedMessages } from '../../src/grpc/encoded-messages.js';
import { SEND_WINDOW_BYTES, sendWindowInterceptor } from '../../src/grpc/interceptors/send-window.js';

/** The call below the interceptor: it keeps each message's completion, to be called when the test says the write completed. */
class HeldWrites {
  readonly sent: unknown[] = [];
  readonly completions: Array<() => void> = [];

  asCall(): ServerInterceptingCallInterface {
    return {
      sendMetadata: () => {},
      sendMessage: (message: unknown, callback: () => void) => {
        this.sent.push(message);
        this.completions.push(callback);
      },
      sendStatus: () => {},
      start: () => {},
      startRead: () => {},
      getPeer: () => 'peer',
      getDeadline: () => Infinity,
      getHost: () => 'host',
      getAuthContext: () => ({}),
      getConnectionInfo: () => ({ localAddress: '', localPort: 0, remoteAddress: '', remotePort: 0 }),
      getMetricsRecorder: () => ({}) as never,
    } as unknown as ServerInterceptingCallInterface;
  }

  completeNext(): void {
    this.completions.shift()!();
  }
}

function method(responseStream: boolean): ServerMethodDefinition<unknown, unknown> {
  const identity = (value: unknown) => value as Buffer;
  return { path: '/test.Service/Method', requestStream: false, responseStream, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } as ServerMethodDefinition<unknown, unknown>;
}

const encoded = (bytes: number) => new EncodedMessage(Buffer.alloc(bytes));

describe('send window (server-streaming calls)', () => {
  it('counts an encoded message as written at once while the window has room, in order', () => {
    const below = new HeldWrites();
    const call = sendWindowInterceptor()(method(true), below.asCall());
    call.sendMetadata(new Metadata());
    const written: number[] = [];
    const messages = Array.from({ length: 10 }, () => encoded(100));
    messages.forEach((message, i) => call.sendMessage(message, () => written.push(i)));
    expect(written).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(below.sent).to.deep.equal(messages);
  });

  it('holds the message that fills the window until writes below free room', () => {
    const below = new HeldWrites();
    const call = sendWindowInterceptor()(method(true), below.asCall());
    const size = SEND_WINDOW_BYTES / 4;
    const written: number[] = [];
    for (let i = 0; i < 4; i++) call.sendMessage(encoded(size), () => written.push(i));
    // The fourth message filled the window: handed on, but the handler's stream is told to wait.
    expect(below.sent).to.have.length(4);
    expect(written).to.deep.equal([0, 1, 2]);
    below.completeNext();
    expect(written).to.deep.equal([0, 1, 2, 3]);
    // Room again: the next message passes at once.
    call.sendMessage(encoded(size), () => written.push(4));
    expect(written).to.deep.equal([0, 1, 2, 3]);
    below.completeNext();
    expect(written).to.deep.equal([0, 1, 2, 3, 4]);
  });

  it('counts messages written together (FramedMessages) by their bytes', () => {
    const below = new HeldWrites();
    const call = sendWindowInterceptor()(method(true), below.asCall());
    const written: number[] = [];
    for (let i = 0; i < 2; i++) call.sendMessage(new FramedMessages(Buffer.alloc(SEND_WINDOW_BYTES / 2)), () => written.push(i));
    expect(below.sent).to.have.length(2);
    expect(written).to.deep.equal([0]);
    below.completeNext();
    expect(written).to.deep.equal([0, 1]);
  });

  it('passes a message of unknown size on alone, waiting for its write as grpc-js does', () => {
    const below = new HeldWrites();
    const call = sendWindowInterceptor()(method(true), below.asCall());
    const written: string[] = [];
    call.sendMessage({ any: 'object' }, () => written.push('object'));
    expect(below.sent).to.have.length(1);
    expect(written).to.deep.equal([]);
    below.completeNext();
    expect(written).to.deep.equal(['object']);
  });

  it('leaves unary calls as they are', () => {
    const below = new HeldWrites();
    const call = sendWindowInterceptor()(method(false), below.asCall());
    const written: string[] = [];
    call.sendMessage(encoded(10), () => written.push('answer'));
    expect(written).to.deep.equal([]);
    below.completeNext();
    expect(written).to.deep.equal(['answer']);
  });
});
