import { json, type Route } from '../server.js';

/** What readiness asks of the service: whether each dependency answers. */
export interface Readiness {
  readiness(): Promise<Record<string, boolean>>;
}

/**
 * /healthz: the process is alive and serving HTTP (200, always).
 * /readyz: 200 when every dependency a call may need answers, else 503;
 * the body names each dependency as "ok" or "unavailable".
 */
export function healthRoutes(service: Readiness): Route[] {
  return [
    { method: 'GET', path: '/healthz', handle: async () => json(200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: async () => {
        const checks = await service.readiness();
        const ready = Object.values(checks).every(Boolean);
        const named = Object.fromEntries(Object.entries(checks).map(([name, ok]) => [name, ok ? 'ok' : 'unavailable']));
        return json(ready ? 200 : 503, { ready, checks: named });
      },
    },
  ];
}
