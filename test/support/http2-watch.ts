import { connect as connectHttp2, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { status } from '@grpc/grpc-js';
import { WatchEventsRequest, WatchEventsResponse, type DeepPartial, type ProvenanceEvent } from '@provenance/client';

const WATCH_EVENTS = '/provenance.v1.ProvenanceService/WatchEvents';

/** How a WatchEvents call over plain HTTP/2 ended, as the server or the connection ended it. */
export interface WatchEnd {
  /** grpc-status of the trailers; undefined when the stream was reset or the connection went away without them. */
  code?: status;
  message?: string;
  /** When the end arrived (performance.now()). */
  at: number;
}

/**
 * One WatchEvents call on a node:http2 client session, with nothing of a
 * gRPC library in between: a deadline is only the grpc-timeout header (no
 * timer of the client's own ends the call, so what ends it is the server),
 * cancel() is a RST_STREAM, and closing the session is a disconnect. Every
 * event is kept, with the status the server ended the call with.
 */
export class Http2Watch {
  readonly events: ProvenanceEvent[] = [];
  /** Resolves with the time the response headers arrived (the subscription is registered); rejects if the call ends first. */
  readonly registered: Promise<number>;
  readonly ended: Promise<WatchEnd>;
  private readonly stream: ClientHttp2Stream;
  private pending: Buffer = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();

  constructor(session: ClientHttp2Session, request: DeepPartial<WatchEventsRequest>, options: { timeoutMs?: number; metadata?: Record<string, string> } = {}) {
    this.stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: WATCH_EVENTS,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...(options.timeoutMs !== undefined ? { 'grpc-timeout': `${Math.ceil(options.timeoutMs)}m` } : {}),
      ...options.metadata,
    });
    const message = WatchEventsRequest.encode(WatchEventsRequest.fromPartial(request)).finish();
    const prefixed = Buffer.alloc(5 + message.length);
    prefixed.writeUInt32BE(message.length, 1);
    prefixed.set(message, 5);
    this.stream.end(prefixed);
    this.stream.on('error', () => undefined);

    let trailers: WatchEnd | undefined;
    this.ended = new Promise((resolve) => {
      this.stream.once('trailers', (headers) => (trailers = endOf(headers)));
      this.stream.once('close', () => {
        resolve(trailers ?? { at: performance.now() });
        this.notify();
      });
    });
    this.registered = new Promise((resolve, reject) => {
      this.stream.once('response', (headers) => {
        // A refusal is a trailers-only response: its status comes in these headers.
        if (headers['grpc-status'] !== undefined) trailers = endOf(headers);
        else resolve(performance.now());
      });
      void this.ended.then((end) => reject(Object.assign(new Error(`the call ended before it was registered: ${end.code} ${end.message ?? ''}`), end)));
    });
    this.registered.catch(() => undefined);
    this.stream.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  get isEnded(): boolean {
    return this.stream.closed;
  }

  /** RST_STREAM(CANCEL), as a client cancelling its call sends it. */
  cancel(): void {
    this.stream.close(constants.NGHTTP2_CANCEL);
  }

  /** Waits until done() holds (checked on each event) or the call ends; false if it ended first or timeoutMs passed. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      if (this.isEnded || performance.now() > deadline) return done();
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(0, deadline - performance.now()));
        this.waiters.add(wake);
      });
    }
    return true;
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + length) break;
      this.events.push(WatchEventsResponse.decode(this.pending.subarray(5, 5 + length)).event!);
      this.pending = this.pending.subarray(5 + length);
    }
    this.notify();
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

export function connectHttp2Session(address: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`http://${address}`);
    session.once('connect', () => {
      session.off('error', reject);
      session.on('error', () => undefined);
      resolve(session);
    });
    session.once('error', reject);
  });
}

function endOf(headers: Record<string, string | string[] | number | undefined>): WatchEnd {
  const code = headers['grpc-status'];
  const message = headers['grpc-message'];
  return {
    ...(code !== undefined ? { code: Number(code) as status } : {}),
    ...(typeof message === 'string' ? { message: decodeURIComponent(message) } : {}),
    at: performance.now(),
  };
}
