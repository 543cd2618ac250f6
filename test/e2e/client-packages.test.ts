import { execFile } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { REPOSITORY_ROOT as ROOT } from '../support/client-programs.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const run = promisify(execFile);
const GO_README = readFileSync(join(ROOT, 'clients/go/README.md'), 'utf8');
const TS_README = readFileSync(join(ROOT, 'clients/ts/README.md'), 'utf8');

/** The first fenced block of that language after the heading. */
function blockAfter(markdown: string, heading: string, language: string): string {
  const start = markdown.indexOf(heading);
  expect(start, heading).to.be.at.least(0);
  return new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(markdown.slice(start))![1]!;
}

/**
 * The shell lines of a README as a user runs them: its placeholder for this
 * repository's folder made the real one, and its /tmp the scratch folder
 * (outside the repository too).
 */
function asWritten(block: string, scratch: string, repository = ROOT): string {
  return block.replace(/\/tmp\b/g, scratch).replaceAll('/path/to/repo', repository.replace(/\/$/, ''));
}

/**
 * A stand-in for this repository holding a copy of the TypeScript package
 * (without its dist/) and the repository's node_modules (a link): npm pack
 * builds dist/ before packing (prepack), and building it in the repository
 * would rewrite, file by file, the dist/ that the tests running beside this
 * one import (a bench worker once read a half-written module and exited).
 */
function repositoryWithTypeScriptPackage(scratch: string): string {
  const repository = join(scratch, 'repository');
  cpSync(join(ROOT, 'clients/ts'), join(repository, 'clients/ts'), { recursive: true, filter: (source) => !/\/clients\/ts\/(dist|node_modules)$/.test(source) });
  symlinkSync(join(ROOT, 'node_modules'), join(repository, 'node_modules'));
  return repository;
}

/** This process's environment without what npm exec sets for mocha (npm_*), which would steer the npm commands under test. */
function userEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_'))), ...extra };
}

describe('the Go and TypeScript clients used outside the repository, as their READMEs say', function () {
  this.timeout(300_000);
  const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'provenance-client-packages-')));
  const redisPrefix = uniqueQueuePrefix();
  let server: ServerProcess;

  before(async () => {
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(scratch, 'provenance.db'), PROVENANCE_REDIS_PREFIX: redisPrefix });
  });
  after(async () => {
    await server?.stop();
    await deleteQueueKeys(redisPrefix);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('Go: a new module, set up by the README\'s lines, builds the example offline and runs it against the server', async () => {
    const lines = asWritten(blockAfter(GO_README, '## Use from your module', 'sh'), scratch);
    // GOPROXY=off whatever env.sh says: the build must need no network.
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', lines], {
      cwd: scratch,
      env: userEnvironment({ PROVENANCE_ADDRESS: server.address, GOPROXY: 'off' }),
    });
    expect(stdout).to.include('job.provenance.completed').and.to.include("matches the server's: true");
    const goMod = readFileSync(join(scratch, 'hello/go.mod'), 'utf8');
    expect(goMod).to.match(/^module example\.com\/hello$/m);
    expect(goMod, 'every replace target absolute').not.to.match(/=>\s*\.\.?\//);
  });

  it('TypeScript: the tarball of npm pack installs into a new project, whose copy runs the example against the server', async () => {
    const lines = asWritten(blockAfter(TS_README, '## Install', 'sh'), scratch, repositoryWithTypeScriptPackage(scratch));
    // The registry is the only network here, and npm's cache holds every dependency since the repository's npm ci.
    await run('bash', ['-euo', 'pipefail', '-c', lines], { cwd: scratch, env: userEnvironment({ npm_config_prefer_offline: 'true' }) });
    const app = join(scratch, 'my-app');
    const installed = join(app, 'node_modules/@provenance/client');
    expect(lstatSync(installed).isSymbolicLink(), 'a copy, not a link into the repository').to.equal(false);
    expect(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'))).to.include({ name: '@provenance/client' });
    const resolved = await run(process.execPath, ['--input-type=module', '--eval', "console.log(import.meta.resolve('@grpc/grpc-js'))"], { cwd: installed });
    expect(resolved.stdout, "the client's own dependencies are the project's").to.include(`file://${app}/node_modules/`);

    writeFileSync(join(app, 'example.mjs'), blockAfter(TS_README, '## Example', 'ts'));
    const { stdout } = await run(process.execPath, ['example.mjs'], { cwd: app, env: userEnvironment({ PROVENANCE_ADDRESS: server.address }) });
    expect(stdout).to.include('job.provenance.completed');
  });
});
