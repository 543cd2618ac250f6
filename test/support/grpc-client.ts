import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import {
  ProvenanceClient,
  WatchEventsRequest,
  decodeStatus as decodeClientStatus,
  statusDetails as clientStatusDetails,
  type DeepPartial,
  type ProvenanceEvent,
  type Status,
  type TlsOptions,
  type WatchEventsResponse,
} from '@provenance/client';

export interface ConnectOptions {
  /** Sent with every call, e.g. { authorization: 'Bearer …' } or { 'x-api-key': '…' }. */
  headers?: Record<string, string>;
  /** Plaintext when absent. */
  tls?: TlsOptions;
  /** The HTTP/2 window (bytes); the client's own 1 MiB when absent. */
  flowControlWindow?: number;
  /** The deadline of each unary call, in milliseconds; none when absent. */
  timeoutMs?: number;
}

/**
 * The TypeScript client package (clients/ts), as the e2e tests use it:
 * promise methods taking partial requests, plus events() for the raw
 * WatchEvents stream, which tests read event by event.
 */
export function connect(address: string, options: ConnectOptions = {}) {
  const client = new ProvenanceClient({
    address,
    ...(options.headers ? { metadata: options.headers } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    channelOptions: {
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      ...(options.flowControlWindow ? { 'grpc-node.flow_control_window': options.flowControlWindow } : {}),
    },
  });
  return Object.assign(client, {
    events: (request: DeepPartial<WatchEventsRequest>): ClientReadableStream<WatchEventsResponse> => client.raw.watchEvents(WatchEventsRequest.fromPartial(request)),
  });
}

export type Client = ReturnType<typeof connect>;

/** The google.rpc.Status a failed call carried in grpc-status-details-bin, with its details decoded. */
export function statusDetails(error: unknown) {
  const details = clientStatusDetails(error);
  if (!details) throw new Error(`the error carries no grpc-status-details-bin: ${String(error)}`);
  return details;
}

export function decodeStatus(status: Status) {
  return decodeClientStatus(status);
}

/** Runs a call that must fail and returns its error. */
export async function failure(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('the call succeeded, but it was expected to fail');
}

/** Resolves once the server has registered the subscription (it sends the response headers then). */
export function subscribed<T extends ClientReadableStream<WatchEventsResponse>>(stream: T): Promise<T> {
  return new Promise((resolve, reject) => {
    stream.once('metadata', () => resolve(stream));
    stream.once('error', reject);
  });
}

/** Reads a WatchEvents stream until it has count events (or ends, or fails), and returns them with how it ended. */
export function collectEvents(stream: ClientReadableStream<WatchEventsResponse>, count: number, timeoutMs = 20_000): Promise<{ events: ProvenanceEvent[]; error?: ServiceError }> {
  return collectEventsUntil(stream, (events) => events.length === count, `${count} events`, timeoutMs);
}

/** Reads a WatchEvents stream until the events read so far satisfy enough (or it ends, or fails); wanted says what was awaited, for the timeout's message. */
export function collectEventsUntil(
  stream: ClientReadableStream<WatchEventsResponse>,
  enough: (events: readonly ProvenanceEvent[]) => boolean,
  wanted: string,
  timeoutMs = 20_000,
): Promise<{ events: ProvenanceEvent[]; error?: ServiceError }> {
  const received = receivedFrom(stream);
  return new Promise((resolve, reject) => {
    const events: ProvenanceEvent[] = [];
    const timer = setTimeout(() => {
      received.wake = undefined;
      stream.cancel();
      reject(new Error(`got ${events.length} events but not ${wanted} within ${timeoutMs} ms: ${events.map((e) => `${e.type}:${e.jobId}`).join(', ')}`));
    }, timeoutMs);
    const take = () => {
      // One at a time: what this collector does not need stays for the next one.
      while (received.events.length > 0) {
        events.push(received.events.shift()!);
        if (enough(events)) return finish();
      }
      if (received.ended) finish(received.error);
    };
    const finish = (error?: ServiceError) => {
      clearTimeout(timer);
      received.wake = undefined;
      resolve(error ? { events, error } : { events });
    };
    received.wake = take;
    take();
  });
}

interface Received {
  /** Events not yet taken by a collector. */
  events: ProvenanceEvent[];
  ended: boolean;
  error?: ServiceError;
  /** The collector reading now, if any. */
  wake?: () => void;
}

const receivedByStream = new WeakMap<ClientReadableStream<WatchEventsResponse>, Received>();

/**
 * What a stream has sent, kept from its first collection on, so that
 * nothing it sends between two collections is lost: not an event, and not
 * the status that ends it (which may come while a test is busy elsewhere,
 * e.g. waiting for a Redis server it killed to exit).
 */
function receivedFrom(stream: ClientReadableStream<WatchEventsResponse>): Received {
  let received = receivedByStream.get(stream);
  if (received) return received;
  const state: Received = { events: [] as ProvenanceEvent[], ended: false };
  stream.on('data', (response: WatchEventsResponse) => {
    state.events.push(response.event!);
    state.wake?.();
  });
  stream.on('error', (error: ServiceError) => {
    state.ended = true;
    state.error = error;
    state.wake?.();
  });
  stream.on('end', () => {
    state.ended = true;
    state.wake?.();
  });
  receivedByStream.set(stream, state);
  return state;
}
