import type { IncomingMessage, ServerResponse } from 'node:http';
import { Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import getRawBody from 'raw-body';
import { invalidArgument, ProvenanceError } from '../../domain/errors.js';
import { Status } from '@provenance/client/gen/google/rpc/status';
import { joinInTurns } from '../../grpc/encoded-messages.js';
import { toRpcStatus } from '../../grpc/errors.js';
import { CLIENT_ADDRESS_KEY, GATEWAY_TOKEN_KEY, type CallerAuthentication } from '../../grpc/interceptors/authentication.js';
import { ANONYMOUS_ADMIN } from '../../domain/principal.js';
import { REQUEST_ID_HEADER } from '../../platform/request-id.js';
import type { HttpResponse, RouteContext } from '../server.js';
import { GatewayChannel, isTransportFailure } from './gateway-channel.js';
import { credentialsOf, identifyCaller } from '../caller.js';
import { errorBody, errorResponse, methodNotAllowed, statusResponse } from './http-status.js';
import { matchRoute, type RestRoute } from './rest-routes.js';
import { jsonInParts } from './json-in-parts.js';
import { encodedRequest, transcodeRequest } from './transcode.js';

const NEWLINE = Buffer.from('\n');

/** A comment line this often keeps an idle event stream's connection open through proxies. */
const KEEP_ALIVE_MS = 15_000;

export interface RestGatewayOptions {
  routes: RestRoute[];
  /** host:port of this process's gRPC listener. */
  grpcTarget: string;
  /** Whether the gRPC listener has TLS (the gateway does not check its certificate: it dials its own listener). */
  tls: boolean;
  /** The largest gRPC message, as PROVENANCE_MAX_MESSAGE_BYTES. */
  maxMessageBytes: number;
  /** The largest request body (PROVENANCE_REST_MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** The most fields a request may hold, nested ones included (PROVENANCE_MAX_REQUEST_FIELDS). */
  maxRequestFields: number;
  /**
   * How callers are authenticated (from the request's headers and its peer
   * address), before anything else is done for a request. The gRPC twin
   * authenticates the call again: it is the one that decides the principal.
   * Absent when no authentication is configured.
   */
  authentication?: Pick<CallerAuthentication, 'authenticate'>;
  /** Tells the gRPC side that a call was forwarded by this gateway, so that it trusts the client address sent along (ServerSecurity.gatewayToken). */
  gatewayToken: string;
  /** The time each call has from its head to its answer, its body's arrival included, or to an event stream's opening (PROVENANCE_REST_TIMEOUT_MS). */
  timeoutMs: number;
  /** When set, every REST call is refused UNIMPLEMENTED, for this reason. */
  refusal?: string;
  logger: Logger;
}

/**
 * The REST twins of the methods (WatchEvents as server-sent events). Each
 * REST call becomes the gRPC call of its twin, made to this process's own gRPC listener with the caller's
 * credentials, so that it passes through the same interceptors
 * (authentication, rate limit), handlers, policy and audit, and answers
 * exactly what the twin answers; the gateway only translates (Google's HTTP
 * transcoding for the request, the proto3 JSON mapping for the answer, the
 * HTTP mapping of gRPC statuses for errors).
 */
export class RestGateway {
  private readonly channel: GatewayChannel;

  constructor(private readonly options: RestGatewayOptions) {
    this.channel = new GatewayChannel({
      target: options.grpcTarget,
      tls: options.tls,
      maxMessageBytes: options.maxMessageBytes,
      probeTimeoutMs: options.timeoutMs,
      logger: options.logger,
    });
  }

  /** The answer to a REST call; undefined when no route has the request's path. */
  async answer(request: IncomingMessage, context: RouteContext): Promise<HttpResponse | undefined> {
    const { url } = context;
    // HEAD is the GET without its body (the listener leaves the body out).
    const method = request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET');
    const match = matchRoute(this.options.routes, method, url.pathname);
    if (!match) return undefined;
    if ('allowed' in match) return methodNotAllowed(request.method ?? '', url.pathname, match.allowed, context.log);
    const { route, pathValues } = match;
    if (this.options.refusal) return statusResponse({ code: status.UNIMPLEMENTED, message: this.options.refusal, details: [] });
    // One time for the whole call, from its head to its answer: the body's arrival included.
    const deadline = Date.now() + this.options.timeoutMs;
    try {
      // Nothing of the body is read before the caller is known: an anonymous 60 MB POST costs a 401.
      if (this.options.authentication) {
        const caller = await identifyCaller(this.options.authentication, request, context, route.grpcPath);
        if ('refusal' in caller) return caller.refusal;
      } else {
        // What the gRPC twin makes of every call when no authentication is configured (security.ts).
        context.identified(ANONYMOUS_ADMIN);
      }
      const body = await this.readBody(request, context, deadline);
      const query = new URLSearchParams(url.searchParams);
      // An EventSource that reconnects names the last event it received.
      const lastEventId = request.headers['last-event-id'];
      const resumeField = route.queryFields.has('after_cursor') ? 'after_cursor' : 'resume_token';
      if (route.serverStreaming && typeof lastEventId === 'string' && !query.has(resumeField)) query.set(resumeField, lastEventId);
      const message = encodedRequest(route, transcodeRequest(route, pathValues, query, body, this.options.maxRequestFields));
      if (route.serverStreaming) return await this.stream(route, message, this.metadataOf(request, context.requestId), context.closed, deadline);
      const answer = await this.call(route, message, this.metadataOf(request, context.requestId), context.closed, deadline);
      if ('error' in answer) return statusResponse(answer.error);
      // A large answer (a whole lineage, an export) is transcoded in parts, with other calls served between them.
      return { status: 200, contentType: 'application/json', body: await joinInTurns([...(await jsonInParts(route.response, answer.bytes)), NEWLINE]) };
    } catch (error) {
      const rpcStatus = toRpcStatus(error, route.grpcPath, context.log);
      // Statuses more precise than the gRPC code's: the body was too large, or the client too slow to send it.
      if (error instanceof ProvenanceError && error.reason === 'BODY_TOO_LARGE') return errorResponse(413, rpcStatus);
      if (error instanceof ProvenanceError && error.reason === 'REQUEST_TIMEOUT') return errorResponse(408, rpcStatus);
      return statusResponse(rpcStatus);
    }
  }

  close(): void {
    this.channel.close();
  }

  /**
   * The body as text, read as it streams in and given up at the limit: a
   * Content-Length over it is refused before anything is read, and a body
   * without one stops being read when it passes it. A body not received
   * whole by the call's deadline is given up then (REQUEST_TIMEOUT, 408):
   * the client is too slow to send, whatever the service would take.
   */
  private async readBody(request: IncomingMessage, context: RouteContext, deadline: number): Promise<string> {
    const limit = this.options.maxBodyBytes;
    const tooLarge = () => new ProvenanceError('RESOURCE_EXHAUSTED', `the request body is over ${limit} bytes (PROVENANCE_REST_MAX_BODY_BYTES)`, 'BODY_TOO_LARGE');
    const declared = request.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) throw tooLarge();
    context.acceptBody();
    const reading = getRawBody(request, { length: declared ?? null, limit, encoding: 'utf-8' });
    // A reading given up at the deadline fails later, when the connection closes: a failure nobody waits for.
    reading.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ProvenanceError('DEADLINE_EXCEEDED', `the request body did not arrive within ${this.options.timeoutMs} ms (PROVENANCE_REST_TIMEOUT_MS)`, 'REQUEST_TIMEOUT')),
        deadline - Date.now(),
      );
    });
    try {
      return await Promise.race([reading, late]);
    } catch (error) {
      const type = (error as getRawBody.RawBodyError).type;
      if (type === 'entity.too.large') throw tooLarge();
      if (type === 'request.size.invalid' || type === 'request.aborted') throw invalidArgument([{ field: 'body', description: `was not received whole (${(error as Error).message})` }]);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The caller's credentials (checked already: without authentication
   * configured, there are none to forward), the HTTP request's id, so that
   * both sides log under one id, and the caller's address, which the gRPC
   * side trusts for the gateway's token.
   */
  private metadataOf(request: IncomingMessage, requestId: string): Metadata {
    const metadata = this.options.authentication ? credentialsOf(request) : new Metadata();
    metadata.set(REQUEST_ID_HEADER, requestId);
    metadata.set(GATEWAY_TOKEN_KEY, this.options.gatewayToken);
    if (request.socket.remoteAddress) metadata.set(CLIENT_ADDRESS_KEY, request.socket.remoteAddress);
    return metadata;
  }

  /** A unary call with its deadline, cancelled when the HTTP client leaves. */
  private async call(route: RestRoute, message: Buffer, metadata: Metadata, closed: AbortSignal, deadline: number): Promise<{ bytes: Buffer } | { error: Status }> {
    const outcome = await this.channel.unary.call(route.grpcPath, message, metadata, deadline, closed);
    const transportFailure = 'error' in outcome && outcome.transportFailure;
    this.channel.transportOutcome(transportFailure);
    return transportFailure ? { error: this.transportFailureStatus(outcome.error.code) } : outcome;
  }

  /**
   * A server stream as server-sent events: the HTTP answer starts once the
   * gRPC stream's headers say the subscription is registered (an error, or
   * no headers within the timeout, is an ordinary error answer); each
   * message is an event whose id is its cursor or resume token; a stream that ends with an
   * error sends it as an `error` event (with the cursors to resume from)
   * and ends. The gRPC call is cancelled as soon as the HTTP client leaves,
   * at whatever point that happens.
   */
  private async stream(route: RestRoute, message: Buffer, metadata: Metadata, closed: AbortSignal, deadline: number): Promise<HttpResponse> {
    const call: ClientReadableStream<Buffer> = this.channel.client.makeServerStreamRequest(
      route.grpcPath,
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => bytes,
      message,
      metadata,
    );
    const cancel = () => call.cancel();
    if (closed.aborted) cancel();
    else closed.addEventListener('abort', cancel, { once: true });
    // Kept from the start: the stream may fail before the events are piped to the response.
    let failure: ServiceError | undefined;
    call.on('error', (error: ServiceError) => (failure ??= error));
    const opened = await new Promise<Status | undefined>((resolve) => {
      const timer = setTimeout(() => {
        call.cancel();
        this.channel.outcome(Object.assign(new Error('no headers'), { code: status.DEADLINE_EXCEEDED, details: '', metadata: new Metadata() }));
        resolve(this.timedOut());
      }, deadline - Date.now());
      call.once('metadata', () => {
        clearTimeout(timer);
        this.channel.outcome(null);
        resolve(undefined);
      });
      call.once('error', (error: ServiceError) => {
        clearTimeout(timer);
        this.channel.outcome(error);
        resolve(this.statusOf(error));
      });
    });
    if (opened) return statusResponse(opened);
    return {
      status: 200,
      contentType: 'text/event-stream',
      body: '',
      headers: { 'Cache-Control': 'no-cache' },
      stream: (response) => sendEvents(call, route, response, closed, () => failure),
    };
  }

  /** The google.rpc.Status of a failed call; a failure of the transport in the gateway's words, not grpc-js's (which name internal addresses). */
  private statusOf(error: ServiceError): Status {
    return isTransportFailure(error) ? this.transportFailureStatus(error.code) : statusOf(error);
  }

  /** A failure of the transport, in the gateway's words: the call timed out, or the listener could not be reached. */
  private transportFailureStatus(code: status): Status {
    if (code === status.DEADLINE_EXCEEDED) return this.timedOut();
    return { code: status.UNAVAILABLE, message: 'the gateway cannot reach the gRPC listener of this server; retry', details: [] };
  }

  private timedOut(): Status {
    return { code: status.DEADLINE_EXCEEDED, message: `the call did not complete within ${this.options.timeoutMs} ms (PROVENANCE_REST_TIMEOUT_MS)`, details: [] };
  }
}

/** Writes the stream's messages as events until either side ends; a slow reader pauses the gRPC stream (and so the server's writes). */
function sendEvents(
  call: ClientReadableStream<Buffer>,
  route: RestRoute,
  response: ServerResponse,
  closed: AbortSignal,
  failedAlready: () => ServiceError | undefined,
): Promise<void> {
  // The headers now, not with the first event: they tell the client that the subscription is registered.
  response.flushHeaders();
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    const finish = () => {
      clearInterval(keepAlive);
      closed.removeEventListener('abort', finish);
      call.removeAllListeners('data');
      if (!response.writableEnded) response.end();
      resolve();
    };
    // The call itself is cancelled by the gateway when the response closes.
    if (closed.aborted) return finish();
    closed.addEventListener('abort', finish, { once: true });
    call.on('data', (bytes: Buffer) => {
      const json = route.response.toJSON(route.response.decode(bytes)) as { event?: { cursor?: string }; resumeToken?: string };
      // Where a reconnecting EventSource resumes: an event's cursor (WatchEvents), a message's resume token (StreamLineage).
      const resumeFrom = json.event?.cursor ?? json.resumeToken;
      const id = resumeFrom ? `id: ${resumeFrom}\n` : '';
      if (!response.write(`${id}data: ${JSON.stringify(json)}\n\n`)) {
        call.pause();
        response.once('drain', () => call.resume());
      }
    });
    const fail = (error: ServiceError) => {
      if (error.code !== status.CANCELLED && !response.writableEnded) response.write(`event: error\ndata: ${JSON.stringify(errorBody(statusOf(error)))}\n\n`);
      finish();
    };
    call.on('error', fail);
    call.on('end', finish);
    const failed = failedAlready();
    if (failed) fail(failed);
    return undefined;
  });
}

/** The google.rpc.Status of a failed call: from its grpc-status-details-bin trailer, or its code and message alone. */
function statusOf(error: ServiceError): Status {
  const [details] = error.metadata?.get('grpc-status-details-bin') ?? [];
  if (Buffer.isBuffer(details)) return Status.decode(details);
  return { code: error.code, message: error.details, details: [] };
}
