import { connect, type Socket } from 'node:net';

/** The first response read off a raw connection (after any interim 1xx): status line, headers (lowercase names), and the body its Content-Length announces. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Opens a plain TCP connection to host:port (an HTTP listener), for requests no HTTP client would send. */
export function openSocket(address: string): Promise<Socket> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(colon + 1)) }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Resolves with the first response the socket receives (head, then the body
 * its Content-Length announces, or everything until the server closes);
 * rejects when the connection ends or fails before a whole head arrived.
 */
export function readResponse(socket: Socket): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    let head: { status: number; headers: Record<string, string>; bodyStart: number } | undefined;
    const finish = (complete: boolean) => {
      if (!head) return reject(new Error(`the connection ended before a response: ${JSON.stringify(received.toString('latin1'))}`));
      const body = bodyOf(received.subarray(head.bodyStart), head.headers, complete);
      if (body === undefined) return undefined;
      cleanup();
      return resolve({ status: head.status, headers: head.headers, body: body.toString('utf8') });
    };
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // An interim answer (100 Continue, to a request that said Expect: 100-continue) comes before the response.
      while (!head && /^HTTP\/1\.[01] 1(?!01)\d\d /.test(received.toString('latin1', 0, 16)) && received.includes('\r\n\r\n')) {
        received = received.subarray(received.indexOf('\r\n\r\n') + 4);
      }
      if (!head) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [statusLine, ...lines] = received.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        head = { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]), headers, bodyStart: end + 4 };
      }
      finish(false);
    };
    const onEnd = () => finish(true);
    const onError = (error: Error) => (head ? finish(true) : (cleanup(), reject(error)));
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
  });
}

/** The whole body once it has arrived (by Content-Length, chunks, or the end of the connection); undefined while more is due. */
function bodyOf(received: Buffer, headers: Record<string, string>, complete: boolean): Buffer | undefined {
  if (headers['transfer-encoding'] === 'chunked') {
    const chunks: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = received.indexOf('\r\n', at);
      if (lineEnd < 0) return complete ? Buffer.concat(chunks) : undefined;
      const size = parseInt(received.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0) return Buffer.concat(chunks);
      if (received.length < lineEnd + 2 + size + 2) return complete ? Buffer.concat(chunks) : undefined;
      chunks.push(received.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = headers['content-length'];
  if (length === undefined) return complete ? received : undefined;
  if (received.length < Number(length)) return complete ? received : undefined;
  return received.subarray(0, Number(length));
}

/** Sends text as it is on a fresh connection and resolves with the first response; the connection is closed after it. */
export async function rawExchange(address: string, request: string): Promise<RawResponse> {
  const socket = await openSocket(address);
  try {
    const response = readResponse(socket);
    socket.write(request);
    return await response;
  } finally {
    socket.destroy();
  }
}

function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done).off('close', done);
      resolve();
    };
    socket.on('drain', done).on('close', done);
  });
}

/**
 * Sends a request head, then a body of bodyBytes in chunks as fast as the
 * connection takes them, and stops sending as soon as a response arrives.
 * Resolves with the response and how much of the body had been sent by
 * then: less than bodyBytes means the server answered without waiting for
 * the body.
 */
export async function sendUntilAnswered(address: string, head: string, bodyBytes: number, chunk = Buffer.alloc(64 * 1024, 'x')): Promise<{ response: RawResponse; sentBytes: number }> {
  const socket = await openSocket(address);
  let answered = false;
  let sentBytes = 0;
  const response = readResponse(socket).finally(() => (answered = true));
  const settled = response.then(
    () => undefined,
    () => undefined,
  );
  // Once the server has answered and closed, writes fail; the response is what matters.
  socket.on('error', () => undefined);
  try {
    socket.write(head);
    while (!answered && sentBytes < bodyBytes && !socket.destroyed) {
      const piece = chunk.subarray(0, Math.min(chunk.length, bodyBytes - sentBytes));
      sentBytes += piece.length;
      if (!socket.write(piece)) await Promise.race([drainedOrClosed(socket), settled]);
    }
    return { response: await response, sentBytes };
  } finally {
    socket.destroy();
  }
}

/** Resolves once the text has arrived on the socket (counting from now), or the connection ended. */
export function received(socket: Socket, text: string): Promise<void> {
  return new Promise((resolve) => {
    let seen = '';
    const done = () => {
      socket.off('data', onData).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (seen.includes(text)) done();
    };
    socket.on('data', onData).on('close', done);
  });
}
