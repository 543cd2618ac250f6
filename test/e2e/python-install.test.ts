import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { PYTHON, REPOSITORY_ROOT as ROOT } from '../support/client-programs.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const run = promisify(execFile);

/** The user's steps of clients/python/README.md: a fresh virtual environment, pip install from the repository, a program outside it. */
describe('the Python client installed with pip into a fresh virtual environment', function () {
  this.timeout(180_000);
  const directory = mkdtempSync(join(tmpdir(), 'provenance-python-install-'));
  const venv = join(directory, 'venv');
  const redisPrefix = uniqueQueuePrefix();
  let server: ServerProcess;

  before(async () => {
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_REDIS_PREFIX: redisPrefix });
  });
  after(async () => {
    await server?.stop();
    await deleteQueueKeys(redisPrefix);
    rmSync(directory, { recursive: true, force: true });
  });

  it('installs offline, imports without the repository and makes every kind of call, blocking and on asyncio', async () => {
    await run(PYTHON, ['-m', 'venv', '--system-site-packages', venv]);
    // setuptools builds in the source folder and never deletes from build/: a module removed since an earlier install would ship again.
    for (const leftover of ['build', 'provenance_client.egg-info']) rmSync(join(ROOT, 'clients/python', leftover), { recursive: true, force: true });
    await run(join(venv, 'bin/pip'), ['install', '--quiet', '--no-build-isolation', '--no-index', join(ROOT, 'clients/python')], { cwd: directory });
    const program = join(directory, 'installed_client.py');
    copyFileSync(join(ROOT, 'clients/python/tests/installed_client.py'), program);
    const prefix = `pip-${randomBytes(3).toString('hex')}`;
    // No PYTHONPATH, run from outside the repository: only what pip installed is importable.
    const env = { ...process.env, PYTHONPATH: '', PYTHONDONTWRITEBYTECODE: '1' };
    const { stdout } = await run(join(venv, 'bin/python'), [program, server.address, prefix], { cwd: directory, env });
    const seen = JSON.parse(stdout) as Record<string, any>;

    expect(seen.clientFile.startsWith(venv), seen.clientFile).to.equal(true);
    expect(seen.generatedFile.startsWith(venv), seen.generatedFile).to.equal(true);
    const id = (name: string) => `${prefix}-${name}`;
    expect(seen.sync).to.deep.equal({
      got: id('a'),
      jobs: [id('c'), id('b'), id('a')],
      pages: [2, 1],
      dependents: [id('b'), id('c')],
      batch: ['OK', 'FAILED_PRECONDITION'],
      batchDetails: 'PARENT_NOT_FOUND',
      exported: [id('a'), id('b'), id('c')],
      invalidated: true,
      notFound: { code: 'NOT_FOUND', reason: 'JOB_NOT_FOUND', fieldViolations: [], preconditionViolations: [], resourceInfo: ['provenance.v1.Job', `jobs/${id('nope')}`] },
      missingParent: {
        code: 'FAILED_PRECONDITION',
        reason: 'PARENT_NOT_FOUND',
        fieldViolations: [],
        preconditionViolations: [['PARENT_NOT_FOUND', `jobs/${id('gone')}`]],
        resourceInfo: null,
      },
      badRequest: { code: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT', fieldViolations: ['type'], preconditionViolations: [], resourceInfo: null },
      unknownKeyword: { raised: 'TypeError', message: seen.sync.unknownKeyword.message },
      wrongValue: { raised: 'ValueError', message: seen.sync.wrongValue.message },
      cancelFinished: {
        code: 'FAILED_PRECONDITION',
        reason: 'NOT_CANCELLABLE',
        fieldViolations: [],
        preconditionViolations: [['NOT_CANCELLABLE', `jobs/${id('a')}`]],
        resourceInfo: null,
      },
      rerun: 'JOB_STATUS_QUEUED',
      auditEvents: true,
      shared: ['globex/bob'],
      revoked: [],
    });
    expect(seen.sync.unknownKeyword.message).to.match(/^record_job\(\) got an unexpected keyword argument 'jobId'; its fields are .*\bjob_id\b/);
    expect(seen.sync.wrongValue.message).to.match(/^submit_job\(\) argument 'parent_job_ids': /);

    expect(seen.asyncio.got).to.equal(id('async-a'));
    expect(seen.asyncio.jobs).to.deep.equal([id('async-c'), id('async-b'), id('async-a')]);
    expect(seen.asyncio.lineage).to.deep.equal([id('async-a')]);
    expect(seen.asyncio.events.at(-1)).to.equal('job.provenance.completed');
    expect(seen.asyncio.notFound).to.include({ code: 'NOT_FOUND', reason: 'JOB_NOT_FOUND' });
    expect([seen.asyncio.shared, seen.asyncio.revoked]).to.deep.equal([['globex/bob'], []]);
  });

  it('gives a type checker the types of its calls, down to the generated messages (py.typed)', async () => {
    // A wrong annotation that only the types of get_job and of the generated Job reveal: mypy must refuse it.
    const program = join(directory, 'typed.py');
    writeFileSync(program, 'from provenance_client import ProvenanceClient\n\n\ndef job_id(client: ProvenanceClient) -> int:\n    return client.get_job("j").job_id\n');
    // grpcio and Debian's protobuf ship no type stubs: only they are skipped.
    const mypy = [join(venv, 'bin/python'), '-m', 'mypy', '--ignore-missing-imports', '--cache-dir', join(directory, 'mypy-cache'), program];
    const refused = await run(mypy[0]!, mypy.slice(1), { cwd: directory }).then(
      () => ({ stdout: '' }),
      (error: { stdout: string }) => error,
    );
    expect(refused.stdout).to.include('typed.py:5: error: Incompatible return value type (got "str", expected "int")');
  });
});
