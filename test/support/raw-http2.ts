import { connect as connectTcp, type Socket } from 'node:net';
import { splitAddress } from '../../src/platform/address.js';

/**
 * A bare HTTP/2 client connection over TCP (h2c) that writes frames exactly
 * as it is told: the HEADERS, DATA and RST_STREAM of a call in one socket
 * write, so the server reads them in one go, which node:http2 cannot promise
 * (nghttp2 sends a RST_STREAM ahead of the stream's queued DATA, and drops
 * the DATA). Just enough HTTP/2 for gRPC calls: request headers are sent as
 * HPACK literals (no table, no Huffman), response header blocks are not
 * decoded (a test sees that headers or the end came, not what they say),
 * and the flow-control windows are either opened wide at the start, so the
 * server is never held back by this client, or left at HTTP/2's 64 KiB and
 * never replenished: a client that reads nothing.
 */
export class RawHttp2Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private lastStreamId = -1;
  private readonly streams = new Map<number, RawStream>();
  private closedFlag = false;
  /** Settles when the server sent GOAWAY or the socket closed: open another connection to go on. */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.markClosed();
        resolve();
      });
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  static connect(address: string, options: { readsNothing?: boolean } = {}): Promise<RawHttp2Connection> {
    const { bareHost, port } = splitAddress(address);
    return new Promise((resolve, reject) => {
      const socket = connectTcp({ host: bareHost, port: Number(port) });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        const connection = new RawHttp2Connection(socket);
        const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
        if (options.readsNothing) connection.write(preface, frame(FrameType.SETTINGS, 0, 0));
        // A stream window of 2^31-1, and the connection window opened to the same size.
        else connection.write(preface, frame(FrameType.SETTINGS, 0, 0, setting(SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW)), frame(FrameType.WINDOW_UPDATE, 0, 0, uint32(MAX_WINDOW - DEFAULT_WINDOW)));
        resolve(connection);
      });
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** A fresh client stream id and the record of what the server sends on it (ended at once on a closed connection). */
  openStream(): RawStream {
    this.lastStreamId += 2;
    const stream = new RawStream(this.lastStreamId);
    if (this.closedFlag) stream.settle('connection closed');
    else this.streams.set(stream.id, stream);
    return stream;
  }

  /** Writes the frames in one socket write; false once the connection is closed. */
  write(...frames: Buffer[]): boolean {
    if (this.closedFlag) return false;
    this.socket.write(Buffer.concat(frames));
    return true;
  }

  close(): void {
    this.socket.destroy();
    this.markClosed();
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const stream of this.streams.values()) stream.settle('connection closed');
    this.streams.clear();
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= FRAME_HEADER_BYTES) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < FRAME_HEADER_BYTES + length) return;
      const type = this.buffered[3]!;
      const flags = this.buffered[4]!;
      const streamId = this.buffered.readUInt32BE(5) & 0x7fffffff;
      const payload = this.buffered.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
      this.buffered = this.buffered.subarray(FRAME_HEADER_BYTES + length);
      this.handle(type, flags, streamId, payload);
    }
  }

  private handle(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (type === FrameType.SETTINGS && !(flags & FLAG_ACK)) this.write(frame(FrameType.SETTINGS, FLAG_ACK, 0));
    else if (type === FrameType.PING && !(flags & FLAG_ACK)) this.write(frame(FrameType.PING, FLAG_ACK, 0, payload));
    else if (type === FrameType.GOAWAY) {
      this.markClosed();
      this.socket.end();
    } else if (type === FrameType.HEADERS || type === FrameType.DATA || type === FrameType.RST_STREAM) {
      const stream = this.streams.get(streamId);
      if (!stream) return;
      // Response headers, not a trailers-only answer (a call refused or ended before it began).
      if (type === FrameType.HEADERS && !(flags & FLAG_END_STREAM)) stream.headersReceived();
      if (type === FrameType.DATA) stream.dataReceived(payload.length);
      if (type === FrameType.RST_STREAM) stream.settle('reset');
      else if (flags & FLAG_END_STREAM) stream.settle('ended');
      if (stream.isSettled) this.streams.delete(streamId);
    }
  }
}

/** What the server did on one stream. */
export class RawStream {
  /** Bytes of DATA the server sent (gRPC messages with their 5-byte prefixes). */
  dataBytes = 0;
  private sawHeaders = false;
  private settledAs: RawStreamEnd | undefined;
  private resolveHeaders!: () => void;
  private resolveData!: () => void;
  private resolveEnd!: (end: RawStreamEnd) => void;
  /** Resolves when the server's response headers arrive (for WatchEvents: the subscription is registered). */
  readonly headers = new Promise<void>((resolve) => (this.resolveHeaders = resolve));
  /** Resolves when the first DATA frame with something in it arrives (for WatchEvents: an event). */
  readonly data = new Promise<void>((resolve) => (this.resolveData = resolve));
  /** Resolves when the stream is over: the server ended it, reset it, or the connection closed. */
  readonly end = new Promise<RawStreamEnd>((resolve) => (this.resolveEnd = resolve));

  constructor(readonly id: number) {}

  get isSettled(): boolean {
    return this.settledAs !== undefined;
  }

  get gotHeaders(): boolean {
    return this.sawHeaders;
  }

  /** The frames of a gRPC call with one request message, ended (half-closed) by its last DATA frame. */
  grpcRequest(path: string, message: Uint8Array, metadata: Record<string, string> = {}): Buffer[] {
    const headers: Array<[string, string]> = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', path],
      [':authority', 'localhost'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ...Object.entries(metadata),
    ];
    const prefixed = Buffer.alloc(5 + message.length);
    prefixed.writeUInt32BE(message.length, 1);
    prefixed.set(message, 5);
    return [frame(FrameType.HEADERS, FLAG_END_HEADERS, this.id, hpackLiterals(headers)), frame(FrameType.DATA, FLAG_END_STREAM, this.id, prefixed)];
  }

  /** RST_STREAM with CANCEL, as a client cancelling its call sends it. */
  cancelFrame(): Buffer {
    return frame(FrameType.RST_STREAM, 0, this.id, uint32(ERROR_CANCEL));
  }

  /** @internal */
  headersReceived(): void {
    if (this.sawHeaders) return;
    this.sawHeaders = true;
    this.resolveHeaders();
  }

  /** @internal */
  dataReceived(bytes: number): void {
    this.dataBytes += bytes;
    if (bytes > 0) this.resolveData();
  }

  /** @internal */
  settle(end: RawStreamEnd): void {
    if (this.settledAs) return;
    this.settledAs = end;
    this.resolveEnd(end);
  }
}

export type RawStreamEnd = 'ended' | 'reset' | 'connection closed';

const FRAME_HEADER_BYTES = 9;
const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
const FLAG_ACK = 0x1;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
const ERROR_CANCEL = 0x8;

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

function setting(id: number, value: number): Buffer {
  const bytes = Buffer.alloc(6);
  bytes.writeUInt16BE(id);
  bytes.writeUInt32BE(value, 2);
  return bytes;
}

/** Each header as "literal header field without indexing, new name" (RFC 7541 6.2.2), with plain (not Huffman) strings. */
function hpackLiterals(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat(headers.flatMap(([name, value]) => [Buffer.from([0]), hpackString(name), hpackString(value)]));
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([hpackInteger(bytes.length, 7), bytes]);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 5.1); the prefix's other bits (here the Huffman flag) are 0. */
function hpackInteger(value: number, prefixBits: number): Buffer {
  const limit = (1 << prefixBits) - 1;
  if (value < limit) return Buffer.from([value]);
  const bytes = [limit];
  for (value -= limit; value >= 128; value = Math.floor(value / 128)) bytes.push((value % 128) + 128);
  bytes.push(value);
  return Buffer.from(bytes);
}
