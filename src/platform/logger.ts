import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/config.js';

/** Bytes of log lines held before they are written without waiting for the end of the turn (below sonic-boom's 16 KiB write size). */
const TURN_BUFFER_BYTES = 8192;

/** Structured JSON logs on stdout, one object per line. */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { service: 'provenance' } }, stdoutByTurn());
}

/**
 * Stdout, written once per turn of the event loop: the lines logged during
 * a turn (an access line per call, under load many per turn) go out in one
 * synchronous write right after it, instead of one write each, which took a
 * tenth of a GetJob's server time (docs/decisions.md, "Log lines written by
 * turn"). A line waits for no later event, and what is held when the
 * process exits is written then.
 */
function stdoutByTurn(): DestinationStream {
  const output = pino.destination({ dest: 1, sync: true, minLength: TURN_BUFFER_BYTES });
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
        setImmediate(flush);
      }
    },
  };
}
