import { setTimeout as sleep } from 'node:timers/promises';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { StartPosition, type ProvenanceEvent } from './gen/provenance/v1/event.js';
import type { WatchEventsRequest, WatchEventsResponse } from './gen/provenance/v1/provenance_service.js';
import { cancelledOnClient, ProvenanceClientError, toClientError } from './errors.js';

/** How a watch resumes after the server ends it with a status it can be resumed from. */
export interface ResumePolicy {
  /**
   * The most resumptions in a row that may fail before the server registers
   * the subscription (it sends the response headers then): when that many
   * have, the last one's error is thrown (default 10). A call the server
   * registered starts the count again however it ends, events or not, so a
   * quiet watch outlives any number of server restarts that each take fewer
   * attempts.
   */
  maxAttempts?: number;
  /** Delay before the first resumption; it doubles with each failure in a row, and starts again after a registered call (default 100). */
  initialDelayMs?: number;
  /** The longest delay, also for a longer RetryInfo delay asked for by the server (default 5000). */
  maxDelayMs?: number;
}

/** What onResume is told before each resumption. */
export interface Resumption {
  /** How the previous call ended (UNAVAILABLE, or RESOURCE_EXHAUSTED with reason SUBSCRIBER_TOO_SLOW or RATE_LIMITED). */
  error: ProvenanceClientError;
  /** 1 for the first resumption after the first call or after a call the server registered, counting up while calls fail before being registered. */
  attempt: number;
  delayMs: number;
  /** The request the next call makes. */
  request: WatchEventsRequest;
}

export interface WatchOptions {
  /**
   * A deadline for the whole watch, resumptions included; none by default
   * (the client's timeoutMs does not apply to streams). When it passes, the
   * iterator throws DEADLINE_EXCEEDED.
   */
  timeoutMs?: number;
  /** Aborting cancels the call; the iterator then throws CANCELLED. */
  signal?: AbortSignal;
  /** false: throw the first error instead of resuming. */
  resume?: ResumePolicy | false;
  /** Called before each resumption, e.g. to log it. */
  onResume?: (resumption: Resumption) => void;
}

const DEFAULT_RESUME_POLICY: Required<ResumePolicy> = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 5000 };

/**
 * The ErrorInfo reasons (domain provenance.v1) of a RESOURCE_EXHAUSTED that
 * a new subscription gets past: the subscriber read too slowly (resume after
 * its last cursor), or the principal's rate limit (resume after RetryInfo).
 * The others are not resumed: TOO_MANY_SUBSCRIPTIONS (another subscription
 * only adds to the pressure and hides a leak in the caller),
 * AUTHENTICATION_THROTTLED, BODY_TOO_LARGE, and gRPC's own, which has no
 * ErrorInfo (a message over the size limit).
 */
const RESUMABLE_EXHAUSTION_REASONS = new Set(['SUBSCRIBER_TOO_SLOW', 'RATE_LIMITED']);
const ERROR_DOMAIN = 'provenance.v1';

/** Whether a new call can get past the status that ended one: UNAVAILABLE, or RESOURCE_EXHAUSTED for one of the reasons above. */
function isResumable(error: ProvenanceClientError): boolean {
  if (error.code === status.UNAVAILABLE) return true;
  const errorInfo = error.statusDetails?.errorInfo;
  return error.code === status.RESOURCE_EXHAUSTED && errorInfo?.domain === ERROR_DOMAIN && RESUMABLE_EXHAUSTION_REASONS.has(errorInfo.reason);
}

type OpenCall = (request: WatchEventsRequest, deadline: number) => ClientReadableStream<WatchEventsResponse>;

/**
 * The events of a WatchEvents subscription, in order, each once, across
 * resumptions: when a call ends with UNAVAILABLE, or RESOURCE_EXHAUSTED for a
 * subscriber too slow or a rate limit (ErrorInfo reason SUBSCRIBER_TOO_SLOW,
 * RATE_LIMITED), the
 * next one asks for the events after the last cursor yielded (or, if none
 * was, after the subscription's start, which the server names in the
 * ErrorInfo's startCursor). Other errors are thrown from the iterator, as is
 * a resumable one after maxAttempts resumptions in a row that all failed
 * before the server registered them.
 *
 * The call opens when the watch is created, before the first next(), so a
 * watch opened before a job is submitted is already listening. Leaving a
 * for-await loop (break, return, throw), return() and close() cancel it.
 */
export class EventWatch implements AsyncIterableIterator<ProvenanceEvent> {
  private reader: CallReader<WatchEventsResponse>;
  private readonly firstCall: CallReader<WatchEventsResponse>;
  private started = false;
  private readonly closing = new AbortController();
  private readonly events: AsyncGenerator<ProvenanceEvent, void, undefined>;
  private readonly stopOnAbort = () => this.reader.cancel();

  constructor(
    private readonly open: OpenCall,
    private readonly request: WatchEventsRequest,
    private readonly options: WatchOptions = {},
  ) {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    this.reader = this.firstCall = new CallReader(open(request, deadline));
    options.signal?.addEventListener('abort', this.stopOnAbort, { once: true });
    if (options.signal?.aborted) this.reader.cancel();
    this.events = this.follow(deadline);
  }

  /**
   * Resolves once the server has registered the subscription (it sends the
   * response headers then): from that moment no event the watch asks for is
   * missed, so a job submitted afterwards is seen from its first event.
   * Rejects with the error of a call that fails first (e.g. NOT_FOUND for an
   * unknown lineageOf). It concerns the first call, not resumptions.
   */
  subscribed(): Promise<void> {
    return this.firstCall.registered;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ProvenanceEvent, void>> {
    this.started = true;
    return this.events.next();
  }

  async return(): Promise<IteratorResult<ProvenanceEvent, void>> {
    this.close();
    return this.events.return();
  }

  /** Ends the watch now: cancels the call, and a next() waiting for an event resolves as done. */
  close(): void {
    this.closing.abort();
    this.reader.cancel();
    // A generator that never ran has no finally block to run; nothing else would release the signal.
    if (!this.started) this.release();
  }

  private async *follow(deadline: number): AsyncGenerator<ProvenanceEvent, void, undefined> {
    const { resume } = this.options;
    const policy: Required<ResumePolicy> | undefined =
      resume === false
        ? undefined
        : {
            maxAttempts: resume?.maxAttempts ?? DEFAULT_RESUME_POLICY.maxAttempts,
            initialDelayMs: resume?.initialDelayMs ?? DEFAULT_RESUME_POLICY.initialDelayMs,
            maxDelayMs: resume?.maxDelayMs ?? DEFAULT_RESUME_POLICY.maxDelayMs,
          };
    let next = this.request;
    let yieldedAny = false;
    let failuresInARow = 0;
    try {
      for (;;) {
        try {
          for (let response = await this.reader.read(); response; response = await this.reader.read()) {
            if (!response.event) continue;
            next = { ...this.request, afterCursor: response.event.cursor };
            yieldedAny = true;
            yield response.event;
          }
          return;
        } catch (thrown) {
          if (this.closing.signal.aborted) return;
          const error = toClientError(thrown);
          // A call the server registered was a successful resubscription, events or not: only calls failing before that count.
          if (this.reader.isRegistered) failuresInARow = 0;
          if (!policy || !(error instanceof ProvenanceClientError) || !isResumable(error) || failuresInARow >= policy.maxAttempts) throw error;
          failuresInARow++;
          if (!yieldedAny) next = resumeFromStart(this.request, next, error);
          const backoff = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (failuresInARow - 1));
          // Half fixed, half random, so that the subscribers a Redis restart ended do not all come back at once.
          const delayMs = Math.min(policy.maxDelayMs, Math.max(backoff / 2 + (Math.random() * backoff) / 2, error.retryDelayMs ?? 0));
          this.options.onResume?.({ error, attempt: failuresInARow, delayMs, request: next });
          await this.pause(delayMs);
          if (this.closing.signal.aborted) return;
        }
        this.reader = new CallReader(this.open(next, deadline));
      }
    } finally {
      this.reader.cancel();
      this.release();
    }
  }

  /** Waits between calls; closing ends the wait early, and an aborted signal throws CANCELLED like an aborted call. */
  private async pause(delayMs: number): Promise<void> {
    const signals = [this.closing.signal, ...(this.options.signal ? [this.options.signal] : [])];
    try {
      await sleep(delayMs, undefined, { signal: AbortSignal.any(signals) });
    } catch {
      if (!this.closing.signal.aborted) throw cancelledOnClient();
    }
  }

  private release(): void {
    this.options.signal?.removeEventListener('abort', this.stopOnAbort);
  }
}

/**
 * Where a subscription that yielded nothing resumes: after the start cursor
 * the server named ('' means from the oldest event), or, without one (the
 * subscription never opened), as it was asked for.
 */
function resumeFromStart(original: WatchEventsRequest, current: WatchEventsRequest, error: ProvenanceClientError): WatchEventsRequest {
  const startCursor = error.statusDetails?.errorInfo?.metadata.startCursor;
  if (startCursor === undefined) return current;
  return startCursor === ''
    ? { ...original, afterCursor: '', startPosition: StartPosition.START_POSITION_OLDEST }
    : { ...original, afterCursor: startCursor };
}

/**
 * Reads a grpc-js server stream one message at a time, pulling only as fast
 * as it is read, so that HTTP/2 flow control slows the server down for a
 * slow reader. Messages received before an error are all read before the
 * error is thrown. Listens from the start: an error nobody listens for
 * would crash the process.
 */
class CallReader<T> {
  /** Settles when the response headers arrive, or the call fails before them. */
  readonly registered: Promise<void>;
  private headersArrived = false;
  private failure: ServiceError | undefined;
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(private readonly call: ClientReadableStream<T>) {
    this.registered = new Promise((resolve, reject) => {
      call.once('metadata', () => {
        this.headersArrived = true;
        resolve();
      });
      call.once('error', (error: ServiceError) => reject(toClientError(error)));
    });
    // read() reports the error too: nobody has to wait on registered, and an unobserved rejection would crash the process.
    this.registered.catch(() => undefined);
    call.on('readable', () => this.wake?.());
    call.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    call.on('error', (error: ServiceError) => {
      this.failure = error;
      this.wake?.();
    });
  }

  /** Whether the response headers have arrived: the server registered the subscription. */
  get isRegistered(): boolean {
    return this.headersArrived;
  }

  /** The next message; undefined once the call has ended with OK; throws the call's error. */
  async read(): Promise<T | undefined> {
    for (;;) {
      const message = this.call.read() as T | null;
      if (message !== null) return message;
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Cancels the call unless it has ended. */
  cancel(): void {
    if (!this.failure && !this.ended) this.call.cancel();
  }
}
