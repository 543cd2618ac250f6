import { Metadata, type ServerWritableStream, type ServiceError } from '@grpc/grpc-js';
import { ProvenanceError } from '../../domain/errors.js';
import type { EventView } from '../../domain/job-view.js';
import { WatchEventsResponse, type ProvenanceServiceServer, type WatchEventsRequest } from '@provenance/client/gen/provenance/v1/provenance_service';
import { encodeWhole, FramedMessages, type EncodedMessage } from '../encoded-messages.js';
import { framedAnswersSent } from '../framed-answers.js';
import type { Subscription } from '../../service/event-stream/event-hub.js';
import type { CallEdge } from '../call.js';
import { toEventMessage, toWatchEventsCommand } from '../mapping.js';
import { SEND_WINDOW_BYTES } from '../interceptors/send-window.js';
import { streamEndSignal } from '../interceptors/stream-lifetime.js';

/**
 * The most bytes of events one write to a subscriber's call carries: a
 * quarter of the send window, so that several writes are under way at once.
 */
const EVENTS_WRITE_BYTES = SEND_WINDOW_BYTES / 4;

/** The event stream: WatchEvents. */
export function eventHandlers(edge: CallEdge, maxMessageBytes: number): Pick<ProvenanceServiceServer, 'watchEvents'> {
  // Events are written several at once only where grpc-js sends them as they are, and no write holds more than a message may
  // (grpc-js holds a write to that limit as it would one message).
  const writeBytes = framedAnswersSent() ? Math.min(EVENTS_WRITE_BYTES, maxMessageBytes) : 0;
  return { watchEvents: (call) => streamEvents(call, edge, writeBytes) };
}

/**
 * WatchEvents: writes the subscription's events to the call, waiting for
 * 'drain' whenever the call's buffer is full, so a slow client slows its own
 * subscription only (which ends it with RESOURCE_EXHAUSTED once its queue
 * passes the limit).
 *
 * The subscription is released however the call ends, whether or not it is
 * registered yet: the client cancelling or going away, the status being sent,
 * the deadline passing (stream-lifetime.ts hears of all of these, whatever
 * order grpc-js reports them in, and even when the status is stuck behind
 * data the client does not read), the call closing or failing, or the hub
 * ending the subscription.
 */
function streamEvents(call: ServerWritableStream<WatchEventsRequest, WatchEventsResponse>, edge: CallEdge, writeBytes: number): void {
  const callEnded = streamEndSignal(call.metadata);
  // The call ended before the handler ran: nobody is left to answer, and nothing was taken.
  if (callEnded.aborted) return;
  let subscription: Subscription | undefined;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    callEnded.removeEventListener('abort', release);
    call.off('close', release);
    call.off('error', release);
    subscription?.close();
  };
  callEnded.addEventListener('abort', release);
  call.once('close', release);
  call.once('error', release);

  /** The cursor of the last event handed to HTTP/2. */
  let lastSent: string | undefined;
  /**
   * The cursor of the last event of each write not yet handed on, oldest at
   * handedOn: the call runs its writes' callbacks in order, so one callback
   * serves every write, rather than a closure per write per subscriber.
   */
  let writing: string[] = [];
  let handedOn = 0;
  const sentOne = () => {
    lastSent = writing[handedOn++];
    if (handedOn === writing.length) {
      writing = [];
      handedOn = 0;
    }
  };
  const log = edge.logOf(call);
  /** A failure to open is translated (and audited) by the edge already. */
  const failToOpen = (failure: ServiceError) => {
    if (!released) call.emit('error', failure);
  };

  // The subscription goes into the audit trail before its first event; if it cannot, it is closed and no event is sent.
  const opening = edge.answer('watchEvents', call, {
    run: (request: WatchEventsRequest, principal) => edge.deps.service.watchEvents(principal, toWatchEventsCommand(request)),
    audited: (request) => [...request.jobIds, ...(request.lineageOf ? [request.lineageOf] : [])],
    discard: (opened) => opened.close(),
  });
  opening.then(async (opened) => {
    if (released) return opened.close();
    subscription = opened;
    // Headers now tell the client that the subscription is registered: every event committed from here on reaches it.
    call.sendMetadata(new Metadata());
    // One 'drain' listener and one reaction to the end for the whole call, rather than one of each per wait.
    let resumeWriting: (() => void) | undefined;
    const resume = () => resumeWriting?.();
    call.on('drain', resume);
    void opened.ended.then(resume);
    try {
      // The loop ends when the subscription does: released with the call (nothing more to send), or failed (thrown).
      for await (const batch of opened.batches()) {
        for (let next = 0; next < batch.length && !opened.isEnded; ) {
          const write = eventsWrite(batch, next, writeBytes);
          next += write.events;
          writing.push(batch[next - 1]!.cursor);
          if (call.write(write.message as unknown as WatchEventsResponse, sentOne)) continue;
          if (!opened.isEnded) await new Promise<void>((resolve) => (resumeWriting = resolve));
          resumeWriting = undefined;
        }
      }
    } catch (error) {
      if (released) return;
      const resumable = error instanceof ProvenanceError ? withCursors(error, lastSent ?? '', opened.startCursor ?? '') : error;
      call.emit('error', edge.failureOf('watchEvents', resumable, log));
    } finally {
      call.off('drain', resume);
    }
  }, failToOpen);
}

/**
 * The hub hands the same event object to every subscription of the process
 * (and a subscriber's view of it is that object when it hides nothing from
 * it), so its message is encoded once and the bytes written to every call that
 * sends it (the service definition accepts them: encoded-messages.ts).
 */
const encodedEvents = new WeakMap<EventView, EncodedMessage>();

function encodedEvent(event: EventView): EncodedMessage {
  let encoded = encodedEvents.get(event);
  if (!encoded) {
    // In its gRPC frame, which grpc-js then writes as it is (framed-answers.ts) rather than copying it into a frame per subscriber.
    encoded = encodeWhole(WatchEventsResponse, { event: toEventMessage(event) });
    encodedEvents.set(event, encoded);
  }
  return encoded;
}

/** One write of a subscriber's events: its message, and how many events of the batch it carries. */
interface EventsWrite {
  message: EncodedMessage | FramedMessages;
  events: number;
}

/**
 * The writes joined so far, each kept with its first event: subscribers
 * whose batches hold the same events (the same filter and view, reading at
 * the same pace) write the bytes joined for the first of them, so that
 * joining costs each of the others a comparison per event.
 */
const joinedWrites = new WeakMap<EventView, { events: readonly EventView[]; message: FramedMessages }>();

/**
 * The next write of the batch, from its event `from` on: as many events as
 * fit in writeBytes (at least one), their frames one after the other
 * (FramedMessages). Writing each event on its own cost every delivery a
 * pass through the call's stream, the interceptors' layers, grpc-js's copy
 * into a frame and an HTTP/2 write: with 100 subscribers, most of the
 * server's time.
 */
function eventsWrite(batch: readonly EventView[], from: number, writeBytes: number): EventsWrite {
  const joined = joinedWrites.get(batch[from]!);
  if (joined && joined.message.frames.length <= writeBytes && from + joined.events.length <= batch.length && joined.events.every((event, i) => event === batch[from + i])) {
    return { message: joined.message, events: joined.events.length };
  }
  const first = encodedEvent(batch[from]!);
  const frames = [first.frame!];
  let bytes = first.frame!.length;
  for (let i = from + 1; i < batch.length; i++) {
    const frame = encodedEvent(batch[i]!).frame!;
    if (bytes + frame.length > writeBytes) break;
    frames.push(frame);
    bytes += frame.length;
  }
  if (frames.length === 1) return { message: first, events: 1 };
  const message = new FramedMessages(Buffer.concat(frames, bytes));
  joinedWrites.set(batch[from]!, { events: batch.slice(from, from + frames.length), message });
  return { message, events: frames.length };
}

/**
 * A client resumes after the last event it processed. Events the server sent
 * but the client had not read yet may be dropped by the client's library
 * when the status arrives, so lastCursor (the last one sent) is a hint;
 * startCursor is where the subscription began ('' when it started from the
 * oldest event, '0-0' when the log was empty), the resume point of a client
 * that processed none.
 */
function withCursors(error: ProvenanceError, lastCursor: string, startCursor: string): ProvenanceError {
  const metadata = { ...error.details.metadata, lastCursor, startCursor };
  const resumable = new ProvenanceError(error.code, error.message, error.reason, { ...error.details, metadata });
  resumable.cause = error.cause;
  return resumable;
}
