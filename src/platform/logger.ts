import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/config.js';

/** Characters of log lines held before they are handed to stdout without waiting for the timer (below sonic-boom's 16 KiB write size). */
const HELD_CHARACTERS = 8192;
/** The longest a line waits to be handed to stdout. */
const FLUSH_MS = 20;
/** The most bytes of lines waiting for a stdout that is not read: beyond it, lines are dropped and counted. */
const MAX_WAITING_BYTES = 16 * 1024 * 1024;

/** Structured JSON logs on stdout, one object per line. */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { service: 'provenance' } }, heldStdout());
}

/**
 * Stdout, the lines held here and handed on FLUSH_MS after the first of
 * them was logged, or as soon as HELD_CHARACTERS wait: under load the access
 * lines of many calls go out in one write, instead of one write each (and
 * one wake-up of whatever reads the pipe), which took a tenth of a GetJob's
 * server time (docs/decisions.md, "Log lines written together"). The lines
 * are held here, not in the destination (its minLength), because its
 * asynchronous writes then wrote whatever waited as soon as the previous
 * write was done: under load, a write per turn of the event loop again.
 * The writes are asynchronous: a reader of stdout that stops reading must
 * not stop the server (a synchronous write to a full pipe held the event
 * loop for seconds). What waits is bounded by MAX_WAITING_BYTES; lines
 * beyond it are dropped, and a warning says how many once there is room
 * again. What is held when the process exits, a fatal error included, is
 * written then (a write still in flight may be lost with the process).
 */
function heldStdout(): DestinationStream {
  // minLength 0: what is handed is written at once, or right after the write in flight.
  const output = pino.destination({ dest: 1, sync: false, minLength: 0, maxLength: MAX_WAITING_BYTES });
  let held = '';
  let droppedLines = 0;
  output.on('drop', (data: string) => {
    droppedLines += lineCount(data);
  });
  // Everything handed is written: there is room again to say what was dropped.
  output.on('drain', () => {
    if (droppedLines === 0) return;
    const dropped = droppedLines;
    droppedLines = 0;
    const notice = { level: 40, time: Date.now(), service: 'provenance', droppedLines: dropped, msg: 'log lines were dropped: stdout was not read fast enough' };
    output.write(`${JSON.stringify(notice)}\n`);
  });
  let failed = false;
  output.on('error', (error: Error) => {
    // stdout closed (EPIPE) or failing: the lines are lost, but the service goes on; said once, on stderr.
    if (!failed) process.stderr.write(`provenance: writing log lines to stdout failed (${error.message}); lines are being lost\n`);
    failed = true;
  });
  const handHeld = () => {
    if (held === '') return;
    const lines = held;
    held = '';
    output.write(lines);
  };
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    handHeld();
  };
  process.on('exit', () => {
    try {
      handHeld();
      output.flushSync();
    } catch {
      // stdout is gone: nothing left to write to.
    }
  });
  return {
    write(line: string) {
      held += line;
      if (held.length >= HELD_CHARACTERS) handHeld();
      else if (!flushScheduled) {
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
