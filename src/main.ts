import { openRuntime } from './composition.js';
import { refuseConfiguration, runUntilSignalled, startup } from './process.js';
import { principalOf } from './transport/principal-metadata.js';
import { serverSecurity } from './transport/security.js';
import { startGrpcServer } from './transport/server.js';

/** The gRPC server, with the worker pool in the same process unless PROVENANCE_IN_PROCESS_WORKERS=false. */
const { config, logger } = startup();
const security = refuseConfiguration(() => serverSecurity(config, logger));
const runtime = await openRuntime(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'cannot start');
  process.exit(1);
});
const server = await startGrpcServer(
  {
    address: config.grpcAddress,
    ...security,
    maxMessageBytes: config.maxMessageBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    healthCheckIntervalMs: config.healthCheckIntervalMs,
  },
  { service: runtime.service, logger, principalOf },
);
runtime.hub.start();
if (config.execution.inProcessWorkers) runtime.startWorkers();
logger.info({ address: server.address, storage: config.storage.type, workers: config.execution.inProcessWorkers }, 'serving');
runUntilSignalled(logger, async () => {
  // Open WatchEvents streams end first, resumably, so that they do not hold the graceful shutdown.
  runtime.hub.stop();
  await server.shutdown();
  await runtime.close(config.shutdownGraceMs);
});
