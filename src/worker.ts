import { openRuntime, prometheusMetrics, sampleRuntime } from './composition.js';
import { NO_METRICS } from './domain/ports/metrics.js';
import { serverSecurity } from './grpc/security.js';
import { operatorsOnly } from './http/caller.js';
import { healthRoutes } from './http/routes/health.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { startHttpServer } from './http/server.js';
import { isLoopback, splitAddress } from './platform/address.js';
import { refuseConfiguration, runUntilSignalled, startup } from './platform/process.js';

/**
 * Workers only (npm run worker): the same Redis, queue prefix and database as the servers, no gRPC.
 * With PROVENANCE_WORKER_METRICS_ADDRESS set, it serves /healthz, /readyz and its own /metrics there
 * (the jobs it runs are counted where they run), guarded as the server's are.
 */
const { config, logger } = startup();
const metricsAddress = config.workerMetricsAddress;
const security = metricsAddress ? refuseConfiguration(() => serverSecurity(config, logger, [['PROVENANCE_WORKER_METRICS_ADDRESS', metricsAddress]])) : undefined;
const metrics = metricsAddress ? prometheusMetrics() : undefined;
// Workers ask no lineage query: the SQLite lineage graph is never loaded here.
const runtime = await openRuntime(config, logger, metrics ?? NO_METRICS, { lineageGraph: 'on-demand' }).catch((error: unknown) => {
  logger.fatal({ err: error }, 'cannot start');
  process.exit(1);
});
if (metrics) sampleRuntime(metrics, runtime);
const http =
  metricsAddress && metrics
    ? await startHttpServer({
        address: metricsAddress,
        routes: [...healthRoutes(runtime.service), ...metricsRoutes(metrics, security?.authentication && operatorsOnly(security.authentication))],
        logger,
        shutdownGraceMs: config.shutdownGraceMs,
        headersTimeoutMs: config.rest.timeoutMs,
        ...(config.security.auth.tls ? { tls: config.security.auth.tls } : {}),
        // Open with no authentication, as the server's listener is: refused to other sites' pages the same way (http/anonymous-callers.ts).
        ...(security?.authentication ? {} : { anonymousCallers: { loopbackListener: isLoopback(splitAddress(metricsAddress).bareHost) } }),
      }).catch((error: unknown) => {
        logger.fatal({ err: error, address: metricsAddress }, 'cannot listen on PROVENANCE_WORKER_METRICS_ADDRESS');
        process.exit(1);
      })
    : undefined;
runtime.startWorkers();
logger.info({ concurrency: config.execution.workerConcurrency, storage: config.storage.type, ...(http && { metricsAddress: http.address }) }, 'working');
runUntilSignalled(logger, async () => {
  await http?.shutdown();
  await runtime.close(config.shutdownGraceMs);
});
