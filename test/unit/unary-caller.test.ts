import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Metadata, status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { Status } from '@provenance/client/gen/google/rpc/status';
import { UnaryCaller, type UnaryOutcome } from '../../src/http/rest/unary-caller.js';
import { until } from '../support/waits.js';

/** What the scripted listener does with a call: it gets the call's headers and its request's bytes (frame included). */
type Script = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, request: Buffer) => void;

function framed(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

const okTrailers = { 'grpc-status': '0' };

/** Writes bytes in pieces of `size`, each its own DATA frame, then the trailers. */
function answerInPieces(stream: ServerHttp2Stream, bytes: Buffer, size: number, trailers: Record<string, string> = okTrailers): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(trailers));
  for (let at = 0; at < bytes.length; at += size) stream.write(bytes.subarray(at, at + size));
  stream.end();
}

describe('the REST gateway’s unary caller (raw gRPC over HTTP/2)', function () {
  this.timeout(20_000);
  let listener: Http2Server;
  let script: Script;
  let caller: UnaryCaller;
  let lastHeaders: IncomingHttpHeaders | undefined;

  before(async () => {
    listener = createServer();
    listener.on('stream', (stream, headers) => {
      lastHeaders = headers;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => script(stream, headers, Buffer.concat(chunks)));
      stream.on('error', () => {});
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    caller = new UnaryCaller({ target: `127.0.0.1:${(listener.address() as AddressInfo).port}`, tls: false, maxReceiveBytes: 1 << 20 });
  });
  after(async () => {
    caller.close();
    await new Promise((resolve) => listener.close(resolve));
  });

  const call = (metadata = new Metadata(), timeoutMs = 5_000, signal = new AbortController().signal): Promise<UnaryOutcome> =>
    caller.call('/provenance.v1.ProvenanceService/GetJob', Buffer.from('request'), metadata, Date.now() + timeoutMs, signal);

  it('sends the request framed, with its metadata, deadline and gRPC headers, and joins an answer that came in many pieces', async () => {
    const answer = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    let request: Buffer | undefined;
    script = (stream, _headers, bytes) => {
      request = bytes;
      answerInPieces(stream, framed(answer), 777);
    };
    const metadata = new Metadata();
    metadata.set('authorization', 'Bearer t');
    metadata.set('trace-bin', Buffer.from([1, 2, 3]));
    const outcome = await call(metadata);
    expect(outcome).to.deep.equal({ bytes: answer });
    expect(request).to.deep.equal(framed(Buffer.from('request')));
    expect(lastHeaders).to.include({ ':method': 'POST', ':path': '/provenance.v1.ProvenanceService/GetJob', 'content-type': 'application/grpc', te: 'trailers', authorization: 'Bearer t' });
    expect(Buffer.from(String(lastHeaders!['trace-bin']), 'base64')).to.deep.equal(Buffer.from([1, 2, 3]));
    expect(String(lastHeaders!['grpc-timeout'])).to.match(/^\d{1,8}m$/);
    expect(Number(String(lastHeaders!['grpc-timeout']).slice(0, -1))).to.be.within(1, 5_000);
  });

  it('takes an empty answer', async () => {
    script = (stream) => answerInPieces(stream, framed(Buffer.alloc(0)), 5);
    expect(await call()).to.deep.equal({ bytes: Buffer.alloc(0) });
  });

  it("gives the server's google.rpc.Status as it sent it, from the trailers or a trailers-only answer", async () => {
    const sent = { code: status.NOT_FOUND, message: 'job x was not found', details: [] };
    const details = Buffer.from(Status.encode(sent).finish()).toString('base64');
    script = (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'job%20x', 'grpc-status-details-bin': details }, { endStream: true });
    expect(await call()).to.deep.equal({ error: sent, transportFailure: false });
    script = (stream) => answerInPieces(stream, Buffer.alloc(0), 1, { 'grpc-status': '8', 'grpc-message': 'too%20many' });
    expect(await call()).to.deep.equal({ error: { code: status.RESOURCE_EXHAUSTED, message: 'too many', details: [] }, transportFailure: false });
  });

  it('counts DEADLINE_EXCEEDED or UNAVAILABLE without the service’s status as a failure of the transport', async () => {
    script = (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'draining' }, { endStream: true });
    const outcome = await call();
    expect(outcome).to.deep.equal({ error: { code: status.UNAVAILABLE, message: 'draining', details: [] }, transportFailure: true });
  });

  it('refuses an answer over the size limit before reading it, and an answer of two messages', async () => {
    script = (stream) => answerInPieces(stream, framed(Buffer.alloc((1 << 20) + 1)), 16_384);
    const tooLarge = await call();
    expect(tooLarge).to.have.nested.property('error.code', status.RESOURCE_EXHAUSTED);
    expect(tooLarge).to.have.property('transportFailure', false);
    script = (stream) => answerInPieces(stream, Buffer.concat([framed(Buffer.from('one')), framed(Buffer.from('two'))]), 4);
    expect(await call()).to.deep.equal({ error: { code: status.INTERNAL, message: 'a unary answer held more than one message', details: [] }, transportFailure: false });
    script = (stream) => answerInPieces(stream, Buffer.concat([Buffer.from([1, 0, 0, 0, 1]), Buffer.from('z')]), 100);
    expect(await call()).to.have.nested.property('error.code', status.INTERNAL);
  });

  it('reports an answer cut short, or ended without a status, as a failure of the transport', async () => {
    script = (stream) => answerInPieces(stream, framed(Buffer.from('whole')).subarray(0, 7), 100);
    expect(await call()).to.have.nested.property('error.code', status.INTERNAL);
    script = (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(framed(Buffer.from('half')));
      stream.close(2);
    };
    const reset = await call();
    expect(reset).to.have.nested.property('error.code', status.UNAVAILABLE);
    expect(reset).to.have.property('transportFailure', true);
  });

  it('ends the call at its deadline, and when its HTTP client leaves, closing the stream either way', async () => {
    const closed: Array<Promise<void>> = [];
    script = (stream) => closed.push(new Promise((resolve) => stream.once('close', () => resolve())));
    expect(await call(new Metadata(), 200)).to.deep.equal({ error: { code: status.DEADLINE_EXCEEDED, message: 'deadline exceeded', details: [] }, transportFailure: true });
    const leaving = new AbortController();
    const outcome = call(new Metadata(), 5_000, leaving.signal);
    await until(() => closed.length === 2, 'the second call to reach the listener');
    leaving.abort();
    expect(await outcome).to.have.nested.property('error.code', status.CANCELLED);
    await Promise.all(closed);
  });

  it('answers UNAVAILABLE when the listener cannot be reached; after a reset, calls go over a fresh connection', async () => {
    const elsewhere = new UnaryCaller({ target: '127.0.0.1:1', tls: false, maxReceiveBytes: 1024 });
    try {
      const outcome = await elsewhere.call('/x/Y', Buffer.alloc(0), new Metadata(), Date.now() + 5_000, new AbortController().signal);
      expect(outcome).to.have.nested.property('error.code', status.UNAVAILABLE);
      expect(outcome).to.have.property('transportFailure', true);
    } finally {
      elsewhere.close();
    }
    script = (stream) => answerInPieces(stream, framed(Buffer.from('again')), 3);
    caller.reset();
    expect(await call()).to.deep.equal({ bytes: Buffer.from('again') });
  });
});
