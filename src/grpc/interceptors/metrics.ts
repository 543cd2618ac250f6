import { ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';
import type { Metrics } from '../../domain/ports/metrics.js';

/** Times every call, from its arrival to its status (or the client cancelling it), by method and status code. */
export function metricsInterceptor(metrics: Metrics): ServerInterceptor {
  return (method, call) => {
    const started = performance.now();
    let ended = false;
    const end = (code: string) => {
      if (ended) return;
      ended = true;
      metrics.callEnded(method.path.slice(1), code, performance.now() - started);
    };
    return new ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: () => end('CANCELLED') }),
      sendStatus: (sent, next) => {
        end(status[sent.code]);
        next(sent);
      },
    });
  };
}
