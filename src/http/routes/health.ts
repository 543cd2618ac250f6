import { json, type Route } from '../server.js';

/** What readiness asks of the service: whether each dependency answers; a string says what is not ready yet (a background load's progress). */
export interface Readiness {
  readiness(): Promise<Record<string, boolean | string>>;
}

/**
 * /healthz: the process is alive and serving HTTP (200, always).
 * /readyz: 200 when every dependency a call may need answers and nothing
 * loads in the background, else 503; the body names each dependency as "ok"
 * or "unavailable", and a background load with its progress. The route is
 * open, and each check pings the database and Redis: requests that arrive
 * while a check runs share its answer, so that a flood of them costs the
 * dependencies one ping at a time, not one per request.
 */
export function healthRoutes(service: Readiness): Route[] {
  let running: Promise<Record<string, boolean | string>> | undefined;
  const readiness = () => (running ??= service.readiness().finally(() => (running = undefined)));
  return [
    { method: 'GET', path: '/healthz', handle: async () => json(200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: async () => {
        const checks = await readiness();
        const ready = Object.values(checks).every((check) => check === true);
        const named = Object.fromEntries(Object.entries(checks).map(([name, check]) => [name, typeof check === 'string' ? check : check ? 'ok' : 'unavailable']));
        return json(ready ? 200 : 503, { ready, checks: named });
      },
    },
  ];
}
