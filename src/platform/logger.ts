import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/config.js';

/** Bytes of log lines held before they are written without waiting for the flush (below sonic-boom's 16 KiB write size). */
const HELD_BYTES = 8192;
/** The longest a line waits to be written. */
const FLUSH_MS = 20;
/** The most bytes of lines waiting for a stdout that is not read: beyond it, lines are dropped and counted. */
const MAX_WAITING_BYTES = 16 * 1024 * 1024;

/** Structured JSON logs on stdout, one object per line. */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { service: 'provenance' } }, heldStdout());
}

/**
 * Stdout, written at most FLUSH_MS after a line is logged, or as soon as
 * HELD_BYTES wait: under load the access lines of many calls go out in one
 * write, instead of one write each (and one wake-up of whatever reads the
 * pipe), which took a tenth of a GetJob's server time (docs/decisions.md,
 * "Log lines written together"). The writes are asynchronous: a reader of
 * stdout that stops reading must not stop the server (a synchronous write
 * to a full pipe held the event loop for seconds). What waits is bounded by
 * MAX_WAITING_BYTES; lines beyond it are dropped, and a warning says how
 * many once there is room again. What is held when the process exits, a
 * fatal error included, is written then (a write still in flight may be
 * lost with the process).
 */
function heldStdout(): DestinationStream {
  const output = pino.destination({ dest: 1, sync: false, minLength: HELD_BYTES, maxLength: MAX_WAITING_BYTES });
  /** Bytes handed to the destination and not yet written: it writes what waits below HELD_BYTES only when flushed. */
  let waiting = 0;
  let droppedLines = 0;
  let lastDropped = false;
  output.on('drop', (data: string) => {
    lastDropped = true;
    droppedLines += lineCount(data);
  });
  output.on('write', (bytes: number) => {
    waiting -= bytes;
  });
  // A write in flight when the timer fired left what came meanwhile waiting: it goes once that write is done, as does the notice of lines dropped.
  output.on('drain', () => {
    if (droppedLines > 0) flush();
    else if (waiting > 0) output.flush();
  });
  let failed = false;
  output.on('error', (error: Error) => {
    // stdout closed (EPIPE) or failing: the lines are lost, but the service goes on; said once, on stderr.
    if (!failed) process.stderr.write(`provenance: writing log lines to stdout failed (${error.message}); lines are being lost\n`);
    failed = true;
  });
  const hand = (line: string): boolean => {
    lastDropped = false;
    output.write(line);
    if (!lastDropped) waiting += Buffer.byteLength(line);
    return !lastDropped;
  };
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    if (droppedLines > 0) {
      const dropped = droppedLines;
      droppedLines = 0;
      const notice = { level: 40, time: Date.now(), service: 'provenance', droppedLines: dropped, msg: 'log lines were dropped: stdout was not read fast enough' };
      // No room yet: the notice waits for the next flush, with the lines dropped meanwhile.
      if (!hand(`${JSON.stringify(notice)}\n`)) droppedLines += dropped - 1;
    }
    output.flush();
  };
  process.on('exit', () => {
    try {
      output.flushSync();
    } catch {
      // stdout is gone: nothing left to write to.
    }
  });
  return {
    write(line: string) {
      hand(line);
      if (!flushScheduled) {
        flushScheduled = true;
        setTimeout(flush, FLUSH_MS).unref();
      }
    },
  };
}

function lineCount(data: string): number {
  let count = 0;
  for (let at = data.indexOf('\n'); at !== -1; at = data.indexOf('\n', at + 1)) count++;
  return count;
}
