import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Principal } from '../domain/principal.js';
import { ProvenanceError } from '../domain/errors.js';
import { toRpcStatus } from '../grpc/errors.js';
import { splitAddress } from '../platform/address.js';
import { acceptedRequestId, REQUEST_ID_HEADER } from '../platform/request-id.js';
import { encodedBody, negotiatedEncoding } from './compression.js';
import { crossSiteRefusal } from './anonymous-callers.js';
import { errorBody, listenerError, methodNotAllowed, statusResponse } from './rest/http-status.js';

/** What a route answers; the listener adds the request id header, and compresses the body as the client accepts. */
export interface HttpResponse {
  status: number;
  contentType: string;
  /** Text, or its UTF-8 bytes (a large answer made in parts: rest/json-in-parts.ts). */
  body: string | Buffer;
  headers?: Record<string, string>;
  /** Writes the body instead of `body`, for as long as it lasts (server-sent events, never compressed); resolves when the response has ended. Not called for HEAD. */
  stream?: (response: ServerResponse) => Promise<void>;
}

export interface RouteContext {
  requestId: string;
  /** Every line names the request id. */
  log: Logger;
  url: URL;
  /** Aborted when the response is over: sent, or its connection gone (the client may leave at any moment, even before the answer starts). */
  closed: AbortSignal;
  /** Call before reading the body: a client that sent "Expect: 100-continue" waits for this to send it, and gets no body sent for an answer given without. */
  acceptBody(): void;
  /** Names the caller, once a route has established who it is, in the request's access line. */
  identified(principal: Principal): void;
}

/** One method on one path (or on every path under it); each file of routes/ exports the routes of one group. */
export interface Route {
  method: string;
  /** The exact path; with prefix, the start of the paths it answers (e.g. '/ui/jobs/' for /ui/jobs/{id}). */
  path: string;
  prefix?: boolean;
  handle(request: IncomingMessage, context: RouteContext): Promise<HttpResponse>;
}

export interface HttpServerOptions {
  address: string;
  routes: readonly Route[];
  /** Answers a path no route has (the REST gateway, whose paths hold ids); undefined means 404. */
  fallback?: (request: IncomingMessage, context: RouteContext) => Promise<HttpResponse | undefined>;
  logger: Logger;
  shutdownGraceMs: number;
  /** How long a request's line and headers may take to arrive (PROVENANCE_REST_TIMEOUT_MS); a route that reads a body bounds the body itself (the REST gateway). */
  headersTimeoutMs: number;
  /** HTTPS with this certificate (PEM, the server's first, then intermediates) and key; plain HTTP without. */
  tls?: { certificateChain: Buffer; privateKey: Buffer };
  /** Given when no authentication is configured: requests a browser makes for another site are refused (anonymous-callers.ts). */
  anonymousCallers?: { loopbackListener: boolean };
}

export interface RunningHttpServer {
  /** host:port actually bound (the port is chosen by the system when the configured one is 0). */
  address: string;
  /** Stops accepting, lets open requests finish within the grace period, then closes what is left. */
  shutdown(): Promise<void>;
}

/** How long an answer given before its request's body was read waits for the client to stop sending (closeAfterLingering). */
const LINGER_MS = 2_000;

/**
 * Every answer's, unless its route says otherwise (the viewer's assets are
 * no-cache): no cache keeps an answer, which may be one caller's jobs
 * (credentials travel in headers, which caches do not key on), and no
 * browser takes a JSON answer for another type (a job's strings in it).
 */
const ANSWER_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

/** How often Node checks each connection's head against headersTimeoutMs (30 s by default): a late head is answered within this past it. */
const HEADERS_CHECK_MS = 1_000;

export function json(status: number, value: unknown): HttpResponse {
  return { status, contentType: 'application/json', body: `${JSON.stringify(value)}\n` };
}

/**
 * The HTTP listener beside the gRPC one (node:http). It routes by method and
 * path (HEAD wherever GET goes: the same headers, no body), gives every request a request id (the caller's X-Request-Id when it is
 * well-formed, else a fresh one) that it echoes in the response and logs
 * under, and masks a route's failure as a 500 naming an error id, as the gRPC
 * side does. Every error it answers has the REST gateway's body (Google's
 * JSON error body); every answer but an event stream is compressed as the
 * client's Accept-Encoding prefers. It carries no logic of its own: routes call the service.
 * With a certificate it serves HTTPS only: credentials never travel in
 * plaintext beside a gRPC listener that has TLS.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const handle = (request: IncomingMessage, response: ServerResponse) =>
    // The last resort, should answering a failure fail too: the process must outlive any request.
    void serve(options, request, response).catch((error: unknown) => {
      options.logger.error({ err: error }, 'request failed beyond answering; connection closed');
      response.destroy();
    });
  // Node's own bound on a whole request (requestTimeout) is off: it would end a body the REST gateway is reading with a bare 408 on the
  // socket, under the gateway's answer; the gateway bounds the body itself, and a body nobody reads ends with the lingering close.
  const timeouts = { headersTimeout: options.headersTimeoutMs, requestTimeout: 0, connectionsCheckingInterval: HEADERS_CHECK_MS };
  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.certificateChain, key: options.tls.privateKey, ...timeouts }, handle)
    : createServer(timeouts, handle);
  // Node would send "100 Continue" before any route looked at the request; the route says when (acceptBody).
  server.on('checkContinue', handle);
  // Node's own 417 for an Expect it cannot meet has no body: answered here, as every error of the listener (serve).
  server.on('checkExpectation', handle);
  // A request Node cannot parse (a head too large, a malformed header): answered, then the connection lingers as for a
  // body left unread; Node's own answer destroys the socket at once, and a client still sending its body never reads it.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => answerUnparsable(error, socket, options));
  // CONNECT asks a proxy for a tunnel, which this server is not: without a listener Node would close the connection without a status.
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    const description = 'CONNECT is not allowed: this is not a proxy';
    const error = new ProvenanceError('INVALID_ARGUMENT', description, 'METHOD_NOT_ALLOWED', { fieldViolations: [{ field: 'method', description }] });
    answerOnSocket(socket, 405, 'Method Not Allowed', error, options.logger);
  });
  // Every socket, for the end of the grace period: those Node no longer counts as its own (a CONNECT, a lingering close) too.
  const sockets = new Set<Duplex>();
  server.on('connection', (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const { host, bareHost, port } = splitAddress(options.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: bareHost, port: Number(port) }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: `${host}:${(server.address() as AddressInfo).port}`,
    shutdown: () => shutdown(server, sockets, options.shutdownGraceMs),
  };
}

/**
 * Answers one request; never rejects, whatever happens: a target that is
 * not a URL is a 400, and a failure after the answer started (the client
 * gone, a stream that throws) is logged and ends the response.
 */
async function serve(options: HttpServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const started = performance.now();
  const requestId = acceptedRequestId(request.headers[REQUEST_ID_HEADER]);
  const log = options.logger.child({ requestId });
  const closed = new AbortController();
  response.once('close', () => closed.abort());
  // A write after the end, or on a connection that failed, is reported here rather than thrown at nobody.
  response.on('error', (error) => log.debug({ err: error }, 'response failed'));
  const url = requestUrl(request.url);
  let status = 400;
  let principal: Principal | undefined;
  const identified = (caller: Principal) => (principal = caller);
  try {
    let continued = false;
    const acceptBody = () => {
      if (continued || response.headersSent || !/^100-continue$/i.test(request.headers.expect ?? '')) return;
      continued = true;
      response.writeContinue();
    };
    const answer = !url
      ? listenerError(400, new ProvenanceError('INVALID_ARGUMENT', 'the request target is not a valid URL or path', 'INVALID_ARGUMENT', { fieldViolations: [{ field: 'target', description: 'is not a valid URL or path' }] }), log)
      : unmetExpectation(request)
        ? listenerError(417, new ProvenanceError('INVALID_ARGUMENT', 'the Expect header asks for what this server does not do', 'EXPECTATION_FAILED', { fieldViolations: [{ field: 'expect', description: 'only "100-continue" can be met' }] }), log)
        : await answerUnlessCrossSite(options, request, log, () => answerOf(options, request, { requestId, log, url, closed: closed.signal, acceptBody, identified }));
    status = answer.status;
    if (bodyStillArriving(request)) closeAfterLingering(request, response);
    const headers = { 'Content-Type': answer.contentType, 'X-Request-Id': requestId, ...ANSWER_HEADERS, ...answer.headers };
    if (answer.stream) {
      response.writeHead(answer.status, headers);
      // A HEAD of an event stream gets its headers; the response's close ends the subscription behind them.
      if (request.method === 'HEAD') response.end();
      else await answer.stream(response);
    } else {
      const { pieces, length, encoding } = await encodedBody(answer.body, negotiatedEncoding(request));
      response.writeHead(answer.status, { ...headers, Vary: 'Accept-Encoding', 'Content-Length': length, ...(encoding === 'identity' ? {} : { 'Content-Encoding': encoding }) });
      if (request.method !== 'HEAD') for (const piece of pieces) response.write(piece);
      response.end();
    }
  } catch (error) {
    status = 500;
    if (response.headersSent) {
      log.error({ err: error, path: url?.pathname }, 'internal error while answering');
      response.destroy();
    } else {
      const answer = statusResponse(toRpcStatus(error, `${request.method} ${url?.pathname}`, log));
      response.writeHead(500, { 'Content-Type': answer.contentType, 'X-Request-Id': requestId, ...ANSWER_HEADERS }).end(answer.body);
    }
  }
  // The access line: one per request, at info. A streamed answer (server-sent events) ends when its stream does.
  options.logger.info(
    {
      requestId,
      method: request.method,
      path: url?.pathname,
      status,
      durationMs: Math.round(performance.now() - started),
      peer: request.socket.remoteAddress,
      ...(principal && { principal: principal.subject, tenant: principal.tenant }),
    },
    'request ended',
  );
}

/** The answer, or 403 for a request a browser made for another site while every caller is the anonymous admin. */
async function answerUnlessCrossSite(options: HttpServerOptions, request: IncomingMessage, log: Logger, answer: () => Promise<HttpResponse>): Promise<HttpResponse> {
  const refusal = options.anonymousCallers && crossSiteRefusal(request, options.anonymousCallers.loopbackListener);
  return refusal ? listenerError(403, refusal, log) : answer();
}

/** Whether the request's Expect header asks for something other than "100 Continue" (what Node sends to 'checkExpectation', as Node reads it). */
function unmetExpectation(request: IncomingMessage): boolean {
  const expect = request.headers.expect;
  return expect !== undefined && !/(?:^|\W)100-continue(?:$|\W)/i.test(expect);
}

/** Whether the request has a body that was not read to its end: the route answered without it (401, 413, 429, a route that takes none). */
function bodyStillArriving(request: IncomingMessage): boolean {
  return !request.complete && (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined);
}

/**
 * The connection of an answer given before the request's body was read
 * closes after it, since what is left of the body is not worth reading; but
 * not at once: a socket closed with unread data resets the connection, and
 * the client can lose the answer it has not read yet. So the rest is read and
 * dropped (nothing is kept) until the client, having seen the answer, stops
 * sending, for LINGER_MS at most: a lingering close, as HTTP servers do.
 */
function closeAfterLingering(request: IncomingMessage, response: ServerResponse): void {
  const { socket } = request;
  // The client is told, so that it sends nothing more on this connection.
  response.setHeader('Connection', 'close');
  // Node ends an answer marked "close" by destroying the socket once it is written: with the body still arriving, that resets the connection and the client loses the answer. Ending it (FIN) keeps it readable for the lingering.
  socket.destroySoon = () => socket.end();
  destroyAfterLingering(socket);
  // The client sent it all after all: nothing unread is left, so the close is an orderly one.
  request.once('end', () => socket.end());
  request.resume();
}

const answered = new WeakSet<Duplex>();

function answerUnparsable(error: NodeJS.ErrnoException, socket: Duplex, { logger, headersTimeoutMs }: HttpServerOptions): void {
  // Node reports every later byte of a connection it could not parse again: the first answer is the only one.
  if (answered.has(socket)) return;
  answered.add(socket);
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // A head that never arrived whole is no HEAD request yet: its answer has the error body, and the connection closes after it.
    const late = new ProvenanceError('DEADLINE_EXCEEDED', `the request line and headers did not arrive within ${headersTimeoutMs} ms (PROVENANCE_REST_TIMEOUT_MS)`, 'REQUEST_TIMEOUT');
    answerOnSocket(socket, 408, 'Request Timeout', late, logger);
    return;
  }
  const [status, reason, answer] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? ([431, 'Request Header Fields Too Large', new ProvenanceError('RESOURCE_EXHAUSTED', 'the request line and headers are over the limit', 'HEADERS_TOO_LARGE')] as const)
      : ([400, 'Bad Request', new ProvenanceError('INVALID_ARGUMENT', 'the request is not valid HTTP/1.1', 'INVALID_ARGUMENT', { fieldViolations: [{ field: 'request', description: 'is not valid HTTP/1.1' }] })] as const);
  answerOnSocket(socket, status, reason, answer, logger, mayCarryBody(error as NodeJS.ErrnoException & { rawPacket?: Buffer }, socket));
}

/**
 * Whether the answer to a request Node could not parse may have content: a
 * HEAD's answer must have none (RFC 9110), and the request's method is known
 * only when the bytes Node last read start with it. When they are all the
 * connection has sent, they start its first request, so anything there but
 * a HEAD (an unknown method, no method at all) gets the error body too. A
 * head spread over many reads (one over the limit) fails in a later read, so
 * its answer has none, whatever its method: its status line still says what
 * went wrong.
 */
function mayCarryBody(error: { rawPacket?: Buffer }, socket: Duplex): boolean {
  const packet = error.rawPacket;
  const start = packet?.subarray(0, 8).toString('latin1') ?? '';
  if (/^(GET|POST|PUT|PATCH|DELETE|OPTIONS|TRACE) /.test(start)) return true;
  const startsTheConnection = packet !== undefined && (socket as Socket).bytesRead === packet.length;
  return startsTheConnection && !start.startsWith('HEAD ');
}

/** An answer written on a socket Node has let go of (no request or response object), which then closes after the linger. */
function answerOnSocket(socket: Duplex, status: number, reason: string, error: ProvenanceError, logger: Logger, withBody = true): void {
  const body = withBody ? `${JSON.stringify(errorBody(toRpcStatus(error, 'HTTP', logger), status))}\n` : '';
  const type = withBody ? 'Content-Type: application/json\r\n' : '';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${type}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  destroyAfterLingering(socket);
}

/** Whatever the client does next (sends more, never closes its side), the socket is gone after LINGER_MS. */
function destroyAfterLingering(socket: Duplex): void {
  const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(timer));
}

/** The request's target as a URL; undefined when it is none (an absolute URL that does not parse: "http://[", "http://a:b"). */
function requestUrl(target: string | undefined): URL | undefined {
  try {
    // A path is read as a path: "//x/metrics" would otherwise be a URL of host x and path /metrics, routed where no route declares it.
    return target?.startsWith('/') ? new URL(`http://localhost${target}`) : new URL(target ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

async function answerOf(options: HttpServerOptions, request: IncomingMessage, context: RouteContext): Promise<HttpResponse> {
  const { pathname } = context.url;
  const onPath = options.routes.filter((route) => answersPath(route, pathname));
  // HEAD is the GET without its body (serve leaves the body out).
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const route = onPath.find((candidate) => candidate.method === method);
  if (!route && onPath.length > 0) return methodNotAllowed(request.method ?? '', pathname, onPath.map((candidate) => candidate.method), context.log);
  try {
    if (route) return await route.handle(request, context);
    return (await options.fallback?.(request, context)) ?? listenerError(404, new ProvenanceError('NOT_FOUND', `no route for ${pathname}`, 'ROUTE_NOT_FOUND'), context.log);
  } catch (error) {
    // Masked as INTERNAL, logged under a fresh error id that the answer names, as on the gRPC side.
    return statusResponse(toRpcStatus(error, `${request.method} ${pathname}`, context.log));
  }
}

function answersPath(route: Route, pathname: string): boolean {
  return route.prefix ? pathname.startsWith(route.path) && pathname.length > route.path.length : route.path === pathname;
}

async function shutdown(server: Server, sockets: ReadonlySet<Duplex>, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => {
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
  }, graceMs);
  await closed;
  clearTimeout(force);
}
