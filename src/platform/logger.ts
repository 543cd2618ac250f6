import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/config.js';

/** Bytes of log lines held before they are written without waiting for the flush (below sonic-boom's 16 KiB write size). */
const HELD_BYTES = 8192;
/** The longest a line waits to be written. */
const FLUSH_MS = 20;

/** Structured JSON logs on stdout, one object per line. */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { service: 'provenance' } }, heldStdout());
}

/**
 * Stdout, written at most FLUSH_MS after a line is logged, or as soon as
 * HELD_BYTES wait: under load the access lines of many calls go out in one
 * write, instead of one write each (and one wake-up of whatever reads the
 * pipe), which took a tenth of a GetJob's server time (docs/decisions.md,
 * "Log lines written together"). What is held when the process exits, a
 * fatal error included, is written then.
 */
function heldStdout(): DestinationStream {
  const output = pino.destination({ dest: 1, sync: true, minLength: HELD_BYTES });
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    output.flushSync();
  };
  process.on('exit', () => output.flushSync());
  return {
    write(line: string) {
      output.write(line);
      if (!flushScheduled) {
        flushScheduled = true;
        setTimeout(flush, FLUSH_MS).unref();
      }
    },
  };
}
