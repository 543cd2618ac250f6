import { openRuntime } from './composition.js';
import { runUntilSignalled, startup } from './platform/process.js';

/** Workers only (npm run worker): the same Redis, queue prefix and database as the servers, no gRPC. */
const { config, logger } = startup();
// Workers ask no lineage query: the SQLite lineage graph is never loaded here.
const runtime = await openRuntime(config, logger, undefined, { lineageGraph: 'on-demand' }).catch((error: unknown) => {
  logger.fatal({ err: error }, 'cannot start');
  process.exit(1);
});
runtime.startWorkers();
logger.info({ concurrency: config.execution.workerConcurrency, storage: config.storage.type }, 'working');
runUntilSignalled(logger, () => runtime.close(config.shutdownGraceMs));
