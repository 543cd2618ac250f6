import { pino, type Logger } from 'pino';
import type { Config } from '../config/config.js';

/**
 * Structured JSON logs on stdout, one object per line. Written
 * asynchronously: a line goes out at once when no write is under way, and
 * the lines logged meanwhile (an access line per call under load) go out
 * together in the next write, instead of one blocking write each, which
 * took a tenth of a GetJob's CPU (docs/decisions.md, "Asynchronous log
 * writes"). pino flushes what is left synchronously when the process exits.
 */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { service: 'provenance' } }, pino.destination({ dest: 1, sync: false }));
}
