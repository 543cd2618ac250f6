import { ServerInterceptingCall, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ProvenanceError } from '../../domain/errors.js';
import { toServiceError } from '../errors.js';

/** setTimeout's longest delay; a deadline further away is left to grpc-js. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The end of each server-streaming call, made reliable for its handler.
 *
 * The deadline: grpc-js ends a call at its deadline from a timer of its own,
 * with no regard for the messages the handler is still writing. A message
 * written after that status (an event delivered in the same moment) fails
 * as a write after the end, which leaves the HTTP/2 stream open for good
 * with no status ever sent: the client waits until its own deadline, or
 * forever. This interceptor ends the call one millisecond earlier, through
 * the interceptors, so the status comes after the messages already written,
 * and drops every message written after it. Its timer is created in the
 * same tick as grpc-js's, from the same start, so it always runs first.
 *
 * The end: an AbortSignal per call, aborted when grpc-js learns that the
 * call is over (the client cancelled it or went away, its status was sent)
 * and at the deadline, which handlers find through the request metadata,
 * the object grpc-js hands from the interceptors to the handler. The
 * handler's own 'cancelled' event hangs on grpc-js's order of events: it is
 * emitted only if the handler's stream exists when grpc-js learns of the
 * end (grpc-js itself would still start a handler after an end it learnt
 * of first; only the interceptors' layers stop that), and at the deadline
 * only once the status is sent, which a status stuck behind data the client
 * does not read never is. An interceptor's listener is in place from the
 * start of the call, so it hears of every end, and the deadline is its own.
 *
 * Put it last among the server's interceptors but the send window
 * (send-window.ts), which only passes messages on: it then sees the
 * handler's messages before any other and its request metadata as the
 * handler gets it.
 */
export function streamLifetimeInterceptor(logger: Logger): ServerInterceptor {
  return (method, call) => {
    // Unary handlers answer through a callback, which grpc-js writes in one go; their call passes as it is (send-window.ts says why).
    if (!method.responseStream) return call as ServerInterceptingCall;
    const ended = new AbortController();
    let statusSent = false;
    let deadlineTimer: NodeJS.Timeout | undefined;
    const end = () => {
      clearTimeout(deadlineTimer);
      ended.abort();
    };
    const intercepted = new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            endSignals.set(metadata, ended.signal);
            nextMetadata(metadata);
          },
          onCancel: end,
        }),
      sendMessage: (message, next) => {
        if (!statusSent) next(message);
      },
      sendStatus: (status, next) => {
        if (statusSent) return;
        statusSent = true;
        end();
        next(status);
      },
    });
    const untilDeadline = Number(call.getDeadline()) - Date.now();
    if (untilDeadline <= MAX_TIMER_MS) {
      deadlineTimer = setTimeout(() => {
        const expired = toServiceError(new ProvenanceError('DEADLINE_EXCEEDED', 'the deadline of the call passed', 'DEADLINE_EXCEEDED'), method.path, logger);
        intercepted.sendStatus({ code: expired.code, details: expired.details, metadata: expired.metadata });
      }, Math.max(0, untilDeadline - 1)).unref();
    }
    return intercepted;
  };
}

const endSignals = new WeakMap<Metadata, AbortSignal>();

/** The end of the streaming call with this request metadata. */
export function streamEndSignal(metadata: Metadata): AbortSignal {
  const signal = endSignals.get(metadata);
  if (!signal) throw new Error('no end signal on the call: the stream-lifetime interceptor did not run');
  return signal;
}
