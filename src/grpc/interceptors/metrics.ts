import { status } from '@grpc/grpc-js';
import type { Metrics } from '../../domain/ports/metrics.js';
import type { CallConcern } from './call-concerns.js';

/**
 * Times every call, from its arrival to its status (or the client cancelling
 * it), by method and status code; server-streaming calls (WatchEvents) apart
 * from unary ones, since they last as long as their subscriptions.
 */
export function metricsConcern(metrics: Metrics): CallConcern {
  return (method) => {
    const started = performance.now();
    let ended = false;
    const end = (code: string) => {
      if (ended) return;
      ended = true;
      const durationMs = performance.now() - started;
      if (method.responseStream) metrics.streamEnded(method.path.slice(1), code, durationMs);
      else metrics.callEnded(method.path.slice(1), code, durationMs);
    };
    return {
      onCancel: () => end('CANCELLED'),
      sendStatus: (sent) => {
        end(status[sent.code]);
        return sent;
      },
    };
  };
}
