import { openRuntime } from './composition.js';
import { ANONYMOUS_ADMIN } from './domain/principal.js';
import { runUntilSignalled, startup } from './process.js';
import { startGrpcServer } from './transport/server.js';

/** The gRPC server, with the worker pool in the same process unless PROVENANCE_IN_PROCESS_WORKERS=false. */
const { config, logger } = startup();
const runtime = await openRuntime(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'cannot start');
  process.exit(1);
});
const server = await startGrpcServer(
  {
    address: config.grpcAddress,
    maxMessageBytes: config.maxMessageBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    healthCheckIntervalMs: config.healthCheckIntervalMs,
  },
  // Authentication comes with issue #5; until then every caller is the local anonymous admin.
  { service: runtime.service, logger, principalOf: () => ANONYMOUS_ADMIN },
);
runtime.hub.start();
if (config.execution.inProcessWorkers) runtime.startWorkers();
logger.info({ address: server.address, storage: config.storage.type, workers: config.execution.inProcessWorkers }, 'serving');
runUntilSignalled(logger, async () => {
  await server.shutdown();
  await runtime.close(config.shutdownGraceMs);
});
