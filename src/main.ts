import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { ProvenanceStore } from './domain/ports/provenance-store.js';
import { ANONYMOUS_ADMIN } from './domain/principal.js';
import { createLogger } from './logger.js';
import { ProvenanceService } from './service/provenance-service.js';
import { MongoProvenanceStore } from './store/mongo/mongo-provenance-store.js';
import { SqliteProvenanceStore } from './store/sqlite/sqlite-provenance-store.js';
import { startGrpcServer } from './transport/server.js';

/** Composition root: configuration → store → service → gRPC server, and the signals that stop them. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`provenance: configuration error: ${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  const store = await openStore(config, logger);
  const service = new ProvenanceService({
    store,
    limits: {
      maxLineageDepth: config.maxLineageDepth,
      maxLineageNodes: config.maxLineageNodes,
      batchSize: config.batchSize,
      maxPayloadBytes: config.maxPayloadBytes,
      volatileKeys: new Set(config.volatileKeys),
    },
    now: () => new Date(),
  });
  const server = await startGrpcServer(
    {
      address: config.grpcAddress,
      maxMessageBytes: config.maxMessageBytes,
      shutdownGraceMs: config.shutdownGraceMs,
      healthCheckIntervalMs: config.healthCheckIntervalMs,
    },
    // Authentication comes with issue #5; until then every caller is the local anonymous admin.
    { service, logger, principalOf: () => ANONYMOUS_ADMIN },
  );
  logger.info({ address: server.address, storage: config.storage.type }, 'serving');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server
      .shutdown()
      .then(() => store.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function openStore(config: Config, logger: Logger): Promise<ProvenanceStore> {
  const { storage } = config;
  try {
    if (storage.type === 'mongodb') {
      return await MongoProvenanceStore.connect({
        uri: storage.uri,
        database: storage.database,
        appName: 'provenance',
        serverSelectionTimeoutMS: config.storeTimeoutMs,
      });
    }
    return SqliteProvenanceStore.open({ path: storage.path, busyTimeoutMs: config.storeTimeoutMs });
  } catch (error) {
    logger.fatal({ err: error, storage: storage.type }, 'cannot open the store');
    process.exit(1);
  }
}

await main();
