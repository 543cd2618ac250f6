import { openRuntime, prometheusMetrics, sampleRuntime } from './composition.js';
import { operatorsOnly } from './http/caller.js';
import { healthRoutes } from './http/routes/health.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { openApiRoute } from './http/routes/openapi.js';
import { restGateway } from './http/routes/rest.js';
import { uiRoutes } from './http/routes/ui.js';
import { startHttpServer } from './http/server.js';
import { refuseConfiguration, runUntilSignalled, startup } from './platform/process.js';
import { isLoopback, splitAddress } from './platform/address.js';
import { metricsConcern } from './grpc/interceptors/metrics.js';
import { requestIdConcern } from './grpc/interceptors/request-id.js';
import { principalOf } from './grpc/principal-metadata.js';
import { serverSecurity } from './grpc/security.js';
import { startGrpcServer } from './grpc/server.js';

/**
 * The gRPC server, with the worker pool in the same process unless PROVENANCE_IN_PROCESS_WORKERS=false,
 * and the HTTP listener (health, metrics, REST, the lineage viewer) unless PROVENANCE_HTTP_ADDRESS=off.
 */
const { config, logger } = startup();
const security = refuseConfiguration(() => serverSecurity(config, logger));
const metrics = prometheusMetrics();
const runtime = await openRuntime(config, logger, metrics).catch((error: unknown) => {
  logger.fatal({ err: error }, 'cannot start');
  process.exit(1);
});
sampleRuntime(metrics, runtime);
// Before gRPC serves: the reader is positioned on the log by the time the first WatchEvents comes.
runtime.hub.start();
const server = await startGrpcServer(
  {
    address: config.grpcAddress,
    credentials: security.credentials,
    // The request id first, so that every later concern's log lines can name it.
    concerns: [requestIdConcern(logger), metricsConcern(metrics), ...security.concerns],
    maxMessageBytes: config.maxMessageBytes,
    maxRequestFields: config.maxRequestFields,
    shutdownGraceMs: config.shutdownGraceMs,
    healthCheckIntervalMs: config.healthCheckIntervalMs,
  },
  { service: runtime.service, logger, principalOf },
);
const rest = restGateway(server.address, config.security.auth.tls, {
  maxMessageBytes: config.maxMessageBytes,
  maxRequestFields: config.maxRequestFields,
  ...config.rest,
  logger,
  gatewayToken: security.gatewayToken,
  ...(security.authentication ? { authentication: security.authentication } : {}),
});
const http = config.httpAddress
  ? await startHttpServer({
      address: config.httpAddress,
      routes: [...healthRoutes(runtime.service), ...metricsRoutes(metrics, security.authentication && operatorsOnly(security.authentication)), openApiRoute(), ...uiRoutes()],
      fallback: (request, context) => rest.answer(request, context),
      logger,
      shutdownGraceMs: config.shutdownGraceMs,
      headersTimeoutMs: config.rest.timeoutMs,
      // The gRPC listener's certificate: REST carries the same credentials, and deserves the same protection.
      ...(config.security.auth.tls ? { tls: config.security.auth.tls } : {}),
      ...(security.authentication ? {} : { anonymousCallers: { loopbackListener: isLoopback(splitAddress(config.httpAddress).bareHost) } }),
    }).catch((error: unknown) => {
      logger.fatal({ err: error, address: config.httpAddress }, 'cannot listen on PROVENANCE_HTTP_ADDRESS');
      process.exit(1);
    })
  : undefined;
if (config.execution.inProcessWorkers) runtime.startWorkers();
logger.info(
  { address: server.address, httpAddress: http?.address, ...(http && { httpScheme: config.security.auth.tls ? 'https' : 'http' }), storage: config.storage.type, workers: config.execution.inProcessWorkers },
  'serving',
);
runUntilSignalled(logger, async () => {
  // Open WatchEvents streams end first, resumably, so that they do not hold the graceful shutdown.
  runtime.hub.stop();
  await Promise.all([server.shutdown(), http?.shutdown()]);
  rest.close();
  await runtime.close(config.shutdownGraceMs);
});
