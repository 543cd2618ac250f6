import type { IncomingMessage } from 'node:http';
import type { HttpResponse, Route, RouteContext } from '../server.js';

/** Where the Prometheus text exposition comes from (metrics/prometheus-metrics). */
export interface Exposition {
  exposition(): Promise<{ contentType: string; body: string }>;
}

/** Refuses a request that may not read the metrics (its answer), or lets it through (undefined). */
export type MetricsGuard = (request: IncomingMessage, context: RouteContext) => Promise<HttpResponse | undefined>;

/**
 * /metrics: every metric of the process, in the Prometheus text format.
 * Its job type labels name every tenant's job types, so with authentication
 * configured the guard lets only operators read it (docs/access-model.md).
 */
export function metricsRoutes(metrics: Exposition, guard?: MetricsGuard): Route[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      handle: async (request, context) => {
        const refusal = await guard?.(request, context);
        if (refusal) return refusal;
        const { contentType, body } = await metrics.exposition();
        return { status: 200, contentType, body };
      },
    },
  ];
}
