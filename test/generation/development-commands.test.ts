import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { shellCommands } from '../support/grpcurl-session.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Every `npm run` command of docs/development.md: run here, run by another
 * test, or not run inside `npm test`, each with why.
 */
const COMMANDS: Record<string, { run: 'here' } | { runBy: string; how: string } | { notRun: string }> = {
  'npm run lint:proto': { run: 'here' },
  // Compares with main, or main with its previous commit; .ci/breaking says so when there is none (a shallow clone).
  'npm run breaking': { run: 'here' },
  'npm run generate': { runBy: 'test/generation/generated-code.test.ts', how: 'the same buf steps into a scratch directory, compared with the committed code' },
  'npm run build': { runBy: 'package.json', how: "npm test's pretest builds before any test runs" },
  'npm run worker': { runBy: 'test/e2e/execution-processes.test.ts', how: 'startWorker runs dist/src/worker.js, what npm run worker runs after its build' },
  'npm run bench': { notRun: '15 to 20 minutes at full sizes; test/e2e/bench-smoke.test.ts runs every scenario at smoke sizes' },
};

describe('the commands of docs/development.md', function () {
  this.timeout(120_000);
  const page = readFileSync(join(ROOT, 'docs/development.md'), 'utf8');
  const commands = shellCommands(page).map((words) => words.join(' '));

  it('are each run by npm test, or listed with why not', () => {
    expect(commands.filter((command) => command.startsWith('npm run ')).sort()).to.deep.equal(Object.keys(COMMANDS).sort());
    for (const entry of Object.values(COMMANDS)) if ('runBy' in entry) expect(existsSync(join(ROOT, entry.runBy)), entry.runBy).to.equal(true);
  });

  for (const [command, entry] of Object.entries(COMMANDS)) {
    if (!('run' in entry)) continue;
    it(`${command} succeeds as written`, () => {
      const [program, ...args] = command.split(' ') as [string, ...string[]];
      const result = spawnSync(program, args, { cwd: ROOT, encoding: 'utf8' });
      expect(result.status, `${result.stdout}\n${result.stderr}`).to.equal(0);
    });
  }
});
