import { Metadata, type ServerWritableStream, type ServiceError } from '@grpc/grpc-js';
import { ProvenanceError } from '../../domain/errors.js';
import type { EventView } from '../../domain/job-view.js';
import { WatchEventsResponse, type ProvenanceServiceServer, type WatchEventsRequest } from '@provenance/client/gen/provenance/v1/provenance_service';
import { EncodedMessage } from '../encoded-messages.js';
import type { Subscription } from '../../service/event-stream/event-hub.js';
import type { CallEdge } from '../call.js';
import { toEventMessage, toWatchEventsCommand } from '../mapping.js';
import { streamEndSignal } from '../interceptors/stream-lifetime.js';

/** The event stream: WatchEvents. */
export function eventHandlers(edge: CallEdge): Pick<ProvenanceServiceServer, 'watchEvents'> {
  return { watchEvents: (call) => streamEvents(call, edge) };
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
function streamEvents(call: ServerWritableStream<WatchEventsRequest, WatchEventsResponse>, edge: CallEdge): void {
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
   * The cursors of the events written and not yet handed on, oldest at
   * handedOn: the call runs its writes' callbacks in order, so one callback
   * serves every write, rather than a closure per event per subscriber.
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
        for (const event of batch) {
          if (opened.isEnded) break;
          writing.push(event.cursor);
          if (call.write(encodedEvent(event) as unknown as WatchEventsResponse, sentOne)) continue;
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
    encoded = new EncodedMessage(Buffer.from(WatchEventsResponse.encode({ event: toEventMessage(event) }).finish()));
    encodedEvents.set(event, encoded);
  }
  return encoded;
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
