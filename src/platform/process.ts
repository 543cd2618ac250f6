import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { createLogger } from './logger.js';

/** Configuration and logger for an entry point; a bad configuration ends the process with one line naming the variable. */
export function startup(): { config: Config; logger: Logger } {
  return refuseConfiguration(() => {
    const config = loadConfig();
    return { config, logger: createLogger(config.logLevel) };
  });
}

/** Runs a step of start-up; a ConfigError it throws ends the process (exit code 2) with one line naming the variable. */
export function refuseConfiguration<T>(step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`provenance: configuration error: ${error.message}\n`);
    process.exit(2);
  }
}

/** On the first SIGTERM or SIGINT, runs stop and exits 0 (1 if stopping failed). */
export function runUntilSignalled(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
