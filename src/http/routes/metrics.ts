import type { Route } from '../server.js';

/** Where the Prometheus text exposition comes from (metrics/prometheus-metrics). */
export interface Exposition {
  exposition(): Promise<{ contentType: string; body: string }>;
}

/** /metrics: every metric of the process, in the Prometheus text format. */
export function metricsRoutes(metrics: Exposition): Route[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      handle: async () => {
        const { contentType, body } = await metrics.exposition();
        return { status: 200, contentType, body };
      },
    },
  ];
}
