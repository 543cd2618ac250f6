import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  DEFAULT_VOLATILE_KEYS,
  JobStatus,
  LineageDirection,
  LineageFilterMode,
  ProvenanceClient,
  ReproducibilityIssueReason,
  StartPosition,
  definitionHash,
  type JsonObject,
} from '@provenance/client';
import { randomBytes } from 'node:crypto';
import { GO_OFFLINE_ENV, PYTHON, PYTHON_SOURCE_ENV, REPOSITORY_ROOT as ROOT } from '../support/client-programs.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const run = promisify(execFile);
const VECTORS = join(ROOT, 'test/fixtures/hash-vectors.json');

/** What docs/clients-scenario.md asks every client to write. */
interface ScenarioResult {
  vectorHashes: Array<{ name: string; sha256: string }>;
  lineage: { nodes: Array<[string, number]>; edges: Array<[string, string]> };
  cappedLineage: { nodes: Array<[string, number]>; edges: Array<[string, string]>; rootOmittedParents: number };
  events: string[];
  finalStatus: string;
  reproducible: boolean;
  issues: string[];
  definitionHashMatches: boolean;
}

/** The TypeScript side of docs/clients-scenario.md, through @provenance/client. */
async function typescriptScenario(address: string, prefix: string): Promise<ScenarioResult> {
  const client = new ProvenanceClient({ address, timeoutMs: 20_000 });
  const id = (name: string) => `${prefix}-${name}`;
  const bare = (jobId: string) => jobId.slice(prefix.length + 1);
  try {
    const vectors = JSON.parse(readFileSync(VECTORS, 'utf8')) as { volatileKeys: string[]; definition: Array<{ name: string; type: string; payloadJson: string }> };
    const vectorHashes = vectors.definition.map((v) => ({ name: v.name, sha256: definitionHash(v.type, JSON.parse(v.payloadJson) as JsonObject, vectors.volatileKeys) }));

    const SUCCEEDED = JobStatus.JOB_STATUS_SUCCEEDED;
    await client.recordJob({ jobId: id('a'), type: 'echo', payload: { n: 1 }, status: SUCCEEDED, outputHash: 'h-a' });
    await client.recordJob({ jobId: id('b'), type: 'echo', payload: { n: 2 }, parentJobIds: [id('a')], status: SUCCEEDED, output: { b: true } });
    await client.recordJob({ jobId: id('c'), type: 'echo', payload: { n: 3, requestedAt: '2026-01-01T00:00:00Z' }, parentJobIds: [id('a'), id('b')], status: SUCCEEDED, outputHash: 'h-c' });

    const lineage = await client.getLineage({ jobId: id('c'), direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS });
    const nodes = lineage.nodes.map((n): [string, number] => [bare(n.jobId), n.depth]).sort();
    const edges = lineage.edges.map((e): [string, string] => [bare(e.parentJobId), bare(e.childJobId)]).sort();
    const capped = await client.getLineage({
      jobId: id('c'),
      direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS,
      filter: 'status = SUCCEEDED',
      filterMode: LineageFilterMode.LINEAGE_FILTER_MODE_PRUNE,
      maxParentsPerNode: 1,
    });
    const cappedLineage = {
      nodes: capped.nodes.map((n): [string, number] => [bare(n.jobId), n.depth]),
      edges: capped.edges.map((e): [string, string] => [bare(e.parentJobId), bare(e.childJobId)]),
      rootOmittedParents: capped.root!.omittedParentCount,
    };

    const watch = client.watchEvents({ jobIds: [id('d')], startPosition: StartPosition.START_POSITION_OLDEST }, { timeoutMs: 20_000 });
    await client.submitJob({ jobId: id('d'), type: 'echo', payload: { msg: 'hi' }, parentJobIds: [id('c')] });
    const events: string[] = [];
    for await (const event of watch) {
      events.push(event.type);
      if (event.type === 'job.provenance.completed') break;
    }
    const d = await client.getJob({ jobId: id('d') });

    const report = await client.checkReproducibility({ jobId: id('c') });
    return {
      vectorHashes,
      lineage: { nodes, edges },
      cappedLineage,
      events,
      finalStatus: JobStatus[d.status],
      reproducible: report.reproducible,
      issues: report.issues.map((i) => ReproducibilityIssueReason[i.reason]).sort(),
      definitionHashMatches: d.definitionHash === definitionHash('echo', { msg: 'hi' }, DEFAULT_VOLATILE_KEYS),
    };
  } finally {
    client.close();
  }
}

describe('the shared client scenario in TypeScript, Python and Go', function () {
  this.timeout(180_000);
  const directory = mkdtempSync(join(tmpdir(), 'provenance-clients-'));
  const redisPrefix = uniqueQueuePrefix();
  let server: ServerProcess;
  const scenarioEnv = (language: string) => ({
    PROVENANCE_ADDRESS: server.address,
    PROVENANCE_SCENARIO_PREFIX: `${language}-${randomBytes(3).toString('hex')}`,
    PROVENANCE_SCENARIO_OUTPUT: join(directory, `${language}.json`),
    PROVENANCE_HASH_VECTORS: VECTORS,
  });

  before(async () => {
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_REDIS_PREFIX: redisPrefix });
  });
  after(async () => {
    await server?.stop();
    await deleteQueueKeys(redisPrefix);
    rmSync(directory, { recursive: true, force: true });
  });

  it('gives the same answers and definition hashes in every language', async () => {
    const expected = JSON.parse(/```json\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'docs/clients-scenario.md'), 'utf8'))![1]!) as ScenarioResult;
    const vectors = JSON.parse(readFileSync(VECTORS, 'utf8')) as { definition: Array<{ name: string; sha256: string }> };

    const typescript = await typescriptScenario(server.address, `ts-${randomBytes(3).toString('hex')}`);

    const python = scenarioEnv('py');
    await run(PYTHON, ['-m', 'unittest', 'discover', '-s', 'tests', '-v'], {
      cwd: join(ROOT, 'clients/python'),
      env: { ...process.env, ...python, ...PYTHON_SOURCE_ENV },
    });

    const go = scenarioEnv('go');
    await run('go', ['test', '-count=1', './...'], {
      cwd: join(ROOT, 'clients/go'),
      env: { ...process.env, ...go, ...GO_OFFLINE_ENV },
    });

    const results = {
      typescript,
      python: JSON.parse(readFileSync(python.PROVENANCE_SCENARIO_OUTPUT, 'utf8')) as ScenarioResult,
      go: JSON.parse(readFileSync(go.PROVENANCE_SCENARIO_OUTPUT, 'utf8')) as ScenarioResult,
    };
    for (const [language, result] of Object.entries(results)) {
      expect(result.vectorHashes, `${language} hashes`).to.deep.equal(vectors.definition.map((v) => ({ name: v.name, sha256: v.sha256 })));
      expect({ ...result, vectorHashes: [] }, language).to.deep.equal({ ...expected, vectorHashes: [] });
    }
  });

  it('runs the README example of each client as written', async () => {
    const env = { ...process.env, PROVENANCE_ADDRESS: server.address };
    const readmeBlock = (path: string, language: string) => new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(readFileSync(join(ROOT, path), 'utf8'))![1]!;

    // The TypeScript example is kept free of type annotations so that Node runs it as it stands.
    const node = await run(process.execPath, ['--input-type=module', '--eval', readmeBlock('clients/ts/README.md', 'ts')], { cwd: ROOT, env });
    expect(node.stdout).to.include('job.provenance.completed');

    const python = await run(PYTHON, ['-c', readmeBlock('clients/python/README.md', 'python')], {
      cwd: join(ROOT, 'clients/python'),
      env: { ...env, ...PYTHON_SOURCE_ENV },
    });
    expect(python.stdout).not.to.equal('');

    // cmd/example is the README's example (a Go test checks they are the same).
    const go = await run('go', ['run', './cmd/example'], { cwd: join(ROOT, 'clients/go'), env: { ...env, ...GO_OFFLINE_ENV } });
    expect(go.stdout).not.to.equal('');
  });
});
