import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';

const LOGGER = new URL('../../src/platform/logger.js', import.meta.url).href;
/** Far more than the pipe and the logger's 16 MiB of waiting lines hold. */
const LINES = 150_000;

/**
 * A process whose stdout nobody reads logs LINES lines of about 300 bytes,
 * says on stderr that it is done, and exits when its stdin ends.
 */
const CHILD = `
import { createLogger } from ${JSON.stringify(LOGGER)};
const log = createLogger('info');
const padding = 'x'.repeat(200);
for (let i = 0; i < ${LINES}; i++) log.info({ i, padding }, 'line');
process.stderr.write('done\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

describe('the logger', function () {
  this.timeout(60_000);

  it('does not hold the process while stdout is not read: lines beyond its bound are dropped and counted in a notice', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      child.stdout.pause();
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      // A synchronous write to the full pipe would never let it get here until stdout is read.
      while (!stderr.includes('done')) {
        if (child.exitCode !== null) throw new Error(`the child exited: ${stderr}`);
        await once(child.stderr, 'data');
      }
      let stdout = '';
      const lines = { logged: 0, dropped: 0 };
      const count = (line: string) => {
        const entry = JSON.parse(line) as { msg: string; droppedLines?: number };
        if (entry.msg === 'line') lines.logged++;
        else lines.dropped += entry.droppedLines ?? 0;
      };
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const complete = stdout.lastIndexOf('\n');
        for (const line of stdout.slice(0, complete).split('\n')) if (line) count(line);
        stdout = stdout.slice(complete + 1);
        if (lines.logged + lines.dropped === LINES) child.stdin.end();
      });
      child.stdout.resume();
      await once(child, 'exit');
      expect(lines.dropped).to.be.greaterThan(0);
      expect(lines.logged + lines.dropped).to.equal(LINES);
    } finally {
      child.kill();
    }
  });
});
