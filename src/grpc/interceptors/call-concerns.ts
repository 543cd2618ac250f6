import { ServerInterceptingCall, type FullResponder, type Metadata, type ServerInterceptingCallInterface, type ServerInterceptor } from '@grpc/grpc-js';

/** A status as the handler or a refusing concern sends it. */
export type SentStatus = Parameters<FullResponder['sendStatus']>[0];

/** The method of a call, as grpc-js describes it to interceptors. */
export type CallMethod = Parameters<ServerInterceptor>[0];

/** What one concern (request id, metrics, authentication, rate limit) does to one call; every hook is optional. */
export interface CallHooks {
  /**
   * The received metadata, before the later concerns see it: the hook calls
   * `next` to let the call on (at once or later), or `refuse` to end it with
   * a status, which the earlier concerns' sendStatus hooks see as they would
   * see the handler's.
   */
  onReceiveMetadata?(metadata: Metadata, next: (metadata: Metadata) => void, refuse: (status: SentStatus) => void): void;
  /** The client cancelled the call (or its deadline passed). */
  onCancel?(): void;
  /** The response headers, before they are sent. */
  sendMetadata?(metadata: Metadata): void;
  /** The status, before it is sent: the hook may return another in its place. */
  sendStatus?(status: SentStatus): SentStatus;
}

/** A concern's hooks for one call; undefined when it has nothing to do with that call. */
export type CallConcern = (method: CallMethod, call: ServerInterceptingCallInterface) => CallHooks | undefined;

/**
 * The concerns as one grpc-js interceptor, in their order: the first sees
 * the received metadata first and the sent status last, as the first of a
 * list of interceptors would. One interceptor per concern made grpc-js build
 * and chain a layer for each (a call object, a responder, two listeners and
 * the closures between them) on every call, unary ones included (issue #15,
 * per-call costs); one layer runs the same hooks in the same order.
 */
export function concernsInterceptor(concerns: readonly CallConcern[]): ServerInterceptor {
  return (method, call) => {
    const hooks: CallHooks[] = [];
    for (const concern of concerns) {
      const forCall = concern(method, call);
      if (forCall) hooks.push(forCall);
    }
    /** The status after the sendStatus hooks of the concerns before `end`, the last one first. */
    const statusBefore = (end: number, status: SentStatus): SentStatus => {
      let sent = status;
      for (let i = end - 1; i >= 0; i--) {
        const hook = hooks[i]!.sendStatus;
        if (hook) sent = hook(sent);
      }
      return sent;
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            // The hooks run one after the other (a hook may call next later), so one position serves the whole walk.
            let at = -1;
            const refuse = (status: SentStatus) => call.sendStatus(statusBefore(at, status));
            const proceed = (received: Metadata): void => {
              while (++at < hooks.length) {
                const hook = hooks[at]!.onReceiveMetadata;
                if (hook) return hook(received, proceed, refuse);
              }
              nextMetadata(received);
            };
            proceed(metadata);
          },
          onCancel: () => {
            for (const hook of hooks) hook.onCancel?.();
          },
        }),
      sendMetadata: (metadata, next) => {
        for (let i = hooks.length - 1; i >= 0; i--) hooks[i]!.sendMetadata?.(metadata);
        next(metadata);
      },
      sendStatus: (status, next) => next(statusBefore(hooks.length, status)),
    });
  };
}
