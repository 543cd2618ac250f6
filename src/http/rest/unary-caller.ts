import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { status, type Metadata } from '@grpc/grpc-js';
import { Status } from '@provenance/client/gen/google/rpc/status';
import { allocateFrame, GRPC_PREFIX_BYTES } from '../../grpc/encoded-messages.js';

/**
 * What a unary call came to: the answer's bytes, or a status. A transport
 * failure is a status the server did not send (no answer, a broken or
 * refused connection, the deadline passed without one).
 */
export type UnaryOutcome = { bytes: Buffer } | { error: Status; transportFailure: boolean };

export interface UnaryCallerOptions {
  /** host:port of this process's gRPC listener. */
  target: string;
  /** Over TLS, without checking the certificate: the gateway dials its own listener. */
  tls: boolean;
  /** The largest answer accepted, as PROVENANCE_MAX_MESSAGE_BYTES. */
  maxReceiveBytes: number;
}

/**
 * The REST gateway's unary calls, made over one HTTP/2 connection of its
 * own rather than through grpc-js's client, which keeps an answer's chunks
 * and joins them in one copy once the last has come: 264 MB for a whole
 * lineage of a million jobs, 175 ms during which nothing else ran (docs/
 * decisions.md, "The REST gateway reads answers as they arrive"). Here the
 * answer is copied into a buffer of its announced size chunk by chunk, as
 * each arrives. The gRPC wire of a unary call (the frame, grpc-timeout,
 * trailers, the google.rpc.Status in grpc-status-details-bin) is that of
 * gRPC over HTTP/2 (PROTOCOL-HTTP2.md of grpc/grpc); server streams stay on
 * grpc-js.
 */
export class UnaryCaller {
  private session: ClientHttp2Session | undefined;
  private closed = false;

  constructor(private readonly options: UnaryCallerOptions) {}

  /** The call with its deadline (ms since the epoch), cancelled when cancelled fires; never rejects. */
  call(path: string, message: Buffer, metadata: Metadata, deadline: number, cancelled: AbortSignal): Promise<UnaryOutcome> {
    return new Promise((resolve) => {
      const timeoutMs = Math.max(1, deadline - Date.now());
      let stream: ClientHttp2Stream;
      try {
        stream = this.connection().request({
          ...metadata.toHttp2Headers(),
          [constants.HTTP2_HEADER_METHOD]: 'POST',
          [constants.HTTP2_HEADER_PATH]: path,
          [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
          [constants.HTTP2_HEADER_TE]: 'trailers',
          // In milliseconds: PROVENANCE_REST_TIMEOUT_MS is at most 7 digits of the 8 grpc-timeout allows.
          'grpc-timeout': `${timeoutMs}m`,
        });
      } catch (error) {
        resolve(unreachable(error));
        return;
      }
      const answer = new AnswerReader(this.options.maxReceiveBytes);
      let outcome: UnaryOutcome | undefined;
      const settle = (settled: UnaryOutcome) => {
        if (outcome) return;
        outcome = settled;
        clearTimeout(timer);
        cancelled.removeEventListener('abort', cancel);
        if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
        resolve(settled);
      };
      const timer = setTimeout(
        () => settle({ error: { code: status.DEADLINE_EXCEEDED, message: 'deadline exceeded', details: [] }, transportFailure: true }),
        timeoutMs,
      );
      const cancel = () => settle({ error: { code: status.CANCELLED, message: 'the HTTP client left', details: [] }, transportFailure: false });
      if (cancelled.aborted) return cancel();
      cancelled.addEventListener('abort', cancel, { once: true });

      let headers: IncomingHttpHeaders | undefined;
      stream.on('response', (received) => (headers = received));
      stream.on('data', (chunk: Buffer) => {
        if (outcome) return;
        const problem = answer.write(chunk);
        if (problem) settle({ error: problem, transportFailure: false });
      });
      // Trailers, or the headers of a trailers-only answer (an error before any message).
      const finish = (trailers: IncomingHttpHeaders | undefined) => {
        const ended = statusFrom(trailers) ?? statusFrom(headers);
        if (!ended) return settle(unreachable(new Error(`the stream ended without a status (HTTP/2 code ${stream.rstCode ?? 'none'})`)));
        if (ended.status.code !== status.OK) return settle({ error: ended.status, transportFailure: !ended.fromServer });
        const bytes = answer.message();
        settle(bytes ? { bytes } : { error: { code: status.INTERNAL, message: 'the answer ended before its message did', details: [] }, transportFailure: false });
      };
      let trailers: IncomingHttpHeaders | undefined;
      stream.on('trailers', (received) => (trailers = received));
      stream.on('close', () => finish(trailers));
      stream.on('error', () => {
        // 'close' follows, with whatever status came.
      });
      const framed = allocateFrame(message.length);
      message.copy(framed, GRPC_PREFIX_BYTES);
      stream.end(framed);
    });
  }

  /** Drops the connection; calls already on it finish or time out there, later ones open a new one. */
  reset(): void {
    const stale = this.session;
    this.session = undefined;
    stale?.close();
  }

  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }

  private connection(): ClientHttp2Session {
    if (this.closed) throw new Error('the gateway is closed');
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connect(`${this.options.tls ? 'https' : 'http'}://${this.options.target}`, {
      ...(this.options.tls ? { rejectUnauthorized: false } : {}),
      // As grpc-js: the gateway reads what arrives at once, so the session's buffers hold no more than the stream's window.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    });
    const forget = () => {
      if (this.session === session) this.session = undefined;
    };
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    // An idle connection to its own listener keeps no process alive.
    session.unref();
    this.session = session;
    return session;
  }
}

/** The answer's one message, copied as its chunks arrive into a buffer of the size its frame announces. */
class AnswerReader {
  private header = Buffer.alloc(GRPC_PREFIX_BYTES);
  private headerRead = 0;
  private body: Buffer | undefined;
  private bodyRead = 0;

  constructor(private readonly maxBytes: number) {}

  /** A status when the answer is not one message of an acceptable size. */
  write(chunk: Buffer): Status | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.headerRead < GRPC_PREFIX_BYTES) {
        if (this.body) return { code: status.INTERNAL, message: 'a unary answer held more than one message', details: [] };
        const taken = chunk.copy(this.header, this.headerRead, at);
        this.headerRead += taken;
        at += taken;
        if (this.headerRead < GRPC_PREFIX_BYTES) return undefined;
        if (this.header[0] !== 0) return { code: status.INTERNAL, message: 'the answer was compressed, which the gateway did not accept', details: [] };
        const length = this.header.readUInt32BE(1);
        if (length > this.maxBytes) {
          return { code: status.RESOURCE_EXHAUSTED, message: `the answer is ${length} bytes, over the ${this.maxBytes} allowed (PROVENANCE_MAX_MESSAGE_BYTES)`, details: [] };
        }
        this.body = Buffer.allocUnsafe(length);
      }
      const body = this.body!;
      const taken = chunk.copy(body, this.bodyRead, at);
      this.bodyRead += taken;
      at += taken;
      // A whole message: any further bytes would start another, which the next round refuses.
      if (this.bodyRead === body.length && at < chunk.length) this.headerRead = 0;
    }
    return undefined;
  }

  /** The message, once all of it has come. */
  message(): Buffer | undefined {
    return this.body && this.bodyRead === this.body.length && this.headerRead === GRPC_PREFIX_BYTES ? this.body : undefined;
  }
}

/**
 * A failure of the transport rather than an answer of the service, which
 * always carries its google.rpc.Status: DEADLINE_EXCEEDED or UNAVAILABLE
 * without it came from the connection or grpc-js's side of the listener.
 */
export function isTransportStatus(code: number, withDetails: boolean): boolean {
  return (code === status.DEADLINE_EXCEEDED || code === status.UNAVAILABLE) && !withDetails;
}

/**
 * The google.rpc.Status of grpc-status-details-bin, or of grpc-status and
 * grpc-message alone; undefined without grpc-status. fromServer: not a
 * failure of the transport (isTransportStatus).
 */
function statusFrom(headers: IncomingHttpHeaders | undefined): { status: Status; fromServer: boolean } | undefined {
  const code = headers?.['grpc-status'];
  if (typeof code !== 'string') return undefined;
  const details = headers!['grpc-status-details-bin'];
  if (typeof details === 'string' && details !== '') {
    try {
      return { status: Status.decode(Buffer.from(details, 'base64')), fromServer: true };
    } catch {
      // Read as a status without details, below.
    }
  }
  const message = headers!['grpc-message'];
  const plain = { code: Number(code), message: typeof message === 'string' ? percentDecoded(message) : '', details: [] };
  return { status: plain, fromServer: !isTransportStatus(plain.code, false) };
}

/** grpc-message is percent-encoded; a malformed one is shown as it came. */
function percentDecoded(message: string): string {
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}

function unreachable(cause: unknown): UnaryOutcome {
  return { error: { code: status.UNAVAILABLE, message: cause instanceof Error ? cause.message : String(cause), details: [] }, transportFailure: true };
}
