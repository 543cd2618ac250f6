import { Writable } from 'node:stream';
import { pino, type Level } from 'pino';

/** A pino logger whose lines are kept, parsed, in lines. */
export function capturingLogger(level: Level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
