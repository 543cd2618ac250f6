import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Metadata, status } from '@grpc/grpc-js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { signToken } from '../support/credentials.js';
import { runDocumentedStart } from '../support/documented-start.js';
import { grpcurlCommands, GrpcurlSession } from '../support/grpcurl-session.js';
import { MiniGrpcurl } from '../support/mini-grpcurl.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const WALKTHROUGH = readFileSync(new URL('../../../docs/grpcurl.md', import.meta.url), 'utf8');
const SECURITY = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');

/**
 * One fresh server (data, Redis prefix) for the README's session and then the
 * walkthrough, as a reader who follows the README to docs/grpcurl.md runs
 * them: the walkthrough's ids must not clash with the session's.
 */
describe("the README's first session, then the grpcurl walkthrough (docs/grpcurl.md) on the same server", function () {
  this.timeout(60_000);
  let directory: string;
  let server: ServerProcess;
  let grpcurl: MiniGrpcurl;
  const sessions: GrpcurlSession[] = [];
  const prefix = uniqueQueuePrefix();
  const session = () => {
    sessions.push(new GrpcurlSession(grpcurl));
    return sessions.at(-1)!;
  };

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-readme-'));
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_REDIS_PREFIX: prefix });
    grpcurl = new MiniGrpcurl(server.address);
  });
  after(async () => {
    for (const each of sessions) each.close();
    grpcurl?.close();
    await server?.stop();
    await deleteQueueKeys(prefix);
    rmSync(directory, { recursive: true, force: true });
  });

  it("the README's session runs as written, in order, and gives the answers the README shows", async () => {
    const commands = grpcurlCommands(README);
    expect(commands.map((words) => words.at(-1))).to.deep.equal([
      'provenance.v1.ProvenanceService/RecordJob',
      'provenance.v1.ProvenanceService/RecordJob',
      'provenance.v1.ProvenanceService/GetLineage',
      'provenance.v1.ProvenanceService/WatchEvents',
      'provenance.v1.ProvenanceService/SubmitJob',
    ]);
    const s = session();
    await s.run(commands);
    expect([...s.errors.keys()]).to.deep.equal([]);
    const shown = JSON.parse(/It answers the ancestors[^`]*```json\n([\s\S]*?)```/.exec(README)![1]!) as unknown;
    expect(s.answer('GetLineage', 'ranker')).to.deep.equal(shown);
    expect(await s.job('report')).to.deep.include({ status: 'JOB_STATUS_SUCCEEDED', parentJobIds: ['ranker'] });
    // The recorded jobs' events are replayed from the oldest kept; the report's arrive live, as a job under the clicks created after the call.
    expect(await s.follow(11)).to.deep.equal([
      'clicks job.provenance.created',
      'clicks compute.job.completed',
      'clicks job.provenance.completed',
      'ranker job.provenance.created',
      'ranker compute.job.completed',
      'ranker job.provenance.completed',
      'report compute.job.submitted',
      'report job.provenance.created',
      'report compute.job.started',
      'report compute.job.completed',
      'report job.provenance.completed',
    ]);
  });

  it('the walkthrough runs as written, in order, and gives the answers the page shows', async () => {
    const commands = grpcurlCommands(WALKTHROUGH);
    expect(commands.length).to.be.at.least(10);
    const s = session();
    await s.run(commands);
    // The one command that fails on purpose: grpcurl with the shipped descriptor set prints its details decoded.
    expect(commands.find((words) => words.includes('-protoset'))!.slice(2, 4)).to.deep.equal(['-protoset', 'src/gen/provenance.binpb']);
    const errorShown = /prints on stderr[^`]*```text\n([\s\S]*?)```/.exec(WALKTHROUGH)![1]!;
    expect([...s.errors]).to.deep.equal([['provenance.v1.ProvenanceService/GetJob {"jobId":"nowhere"}', errorShown]]);
    const shown = JSON.parse(/The first answers[^`]*```json\n([\s\S]*?)```/.exec(WALKTHROUGH)![1]!) as unknown;
    const lineage = [...s.answers].find(([key]) => key.startsWith('provenance.v1.ProvenanceService/GetLineage'))![1];
    expect(lineage).to.deep.equal(shown);
    const dotShown = /```dot\n([\s\S]*?)```/.exec(WALKTHROUGH)![1]!;
    expect(s.answer('ExportProvenanceGraph', 'model')).to.deep.include({ format: 'GRAPH_FORMAT_DOT', contentType: 'text/vnd.graphviz', content: dotShown });
    expect(s.answer('CheckReproducibility', 'bundle')).to.deep.include({ reproducible: true });
    expect(await s.job('digest-again')).to.deep.include({ status: 'JOB_STATUS_SUCCEEDED', result: { ...(await s.job('digest')).result, cached: true, cachedFromJobId: 'digest' } });
    expect(s.answer('RerunJob', 'doc')).to.deep.include({ rerunOfJobId: 'doc' });
    expect(s.answer('InvalidateCache', 'doc')).to.deep.equal({ affectedJobIds: ['doc', 'bundle', 'digest', 'digest-again'], affectedCount: 4, dryRun: true });
    expect((await s.job('bundle')).cacheState).to.equal('CACHE_STATE_STALE');
    expect(s.answer('SetReaderSubjects', 'bundle')).to.deep.include({ jobId: 'bundle', readerSubjects: ['globex/ci-bot'] });
    // Taken back: grpcurl leaves out an empty list.
    expect(await s.job('bundle')).to.not.have.property('readerSubjects');
    expect((await s.job('nap')).status).to.equal('JOB_STATUS_CANCELLED');
    await s.settled('after-nap');
    expect((await s.job('after-nap')).error?.reason).to.equal('DEPENDENCY_FAILED');
    expect(s.streams).to.have.length(1);
    expect(await s.follow(9)).to.deep.equal([
      'nap compute.job.submitted',
      'nap job.provenance.created',
      'nap compute.job.started',
      'after-nap compute.job.submitted',
      'after-nap job.provenance.created',
      'nap compute.job.cancelled',
      'nap job.provenance.completed',
      'after-nap compute.job.failed',
      'after-nap job.provenance.completed',
    ]);
  });
});

describe('the authentication examples (docs/security.md)', function () {
  this.timeout(60_000);

  /**
   * Each block as a reader runs it in a fresh directory: its setup lines
   * (export, KEY=..., echo > api-keys.json) in bash, the server with the
   * variables they set and those of its `npm start` line, then its grpcurl
   * command. $TOKEN is the reader's own: a token signed with the page's secret.
   */
  const runBlock = async (block: string, role: string) => {
    const directory = mkdtempSync(join(tmpdir(), 'provenance-readme-auth-'));
    const start = runDocumentedStart(block, directory);
    const server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), ...start.serverEnv });
    const grpcurl = new MiniGrpcurl(server.address);
    try {
      const { PROVENANCE_JWT_SECRET: secret, PROVENANCE_JWT_ISSUER: iss, PROVENANCE_JWT_AUDIENCE: aud } = start.variables;
      const variables: Record<string, string> = {
        ...start.variables,
        ...(secret ? { TOKEN: await signToken({ sub: 'alice', tenant: 'acme', roles: [role], iss, aud, exp: Math.floor(Date.now() / 1000) + 600 }, 'HS256', secret) } : {}),
      };
      expect(start.clientCommands).to.have.length(1);
      const words = start.clientCommands[0]!;
      expect(words.slice(0, 2)).to.deep.equal(['grpcurl', '-plaintext']);
      const metadata = new Metadata();
      let i = 2;
      for (; words[i] === '-H'; i += 2) {
        const [name, value] = words[i + 1]!.split(': ') as [string, string];
        metadata.set(name, value.replace(/\$(\w+)/g, (_, variable: string) => variables[variable]!));
      }
      expect(words[i]).to.equal('-d');
      const [body, address, method] = words.slice(i + 1);
      expect(address).to.equal('127.0.0.1:50051');
      expect(await grpcurl.call(method!, JSON.parse(body!), metadata)).to.deep.equal({});
      // The same call without the credentials is refused: the block's lines did turn authentication on.
      await grpcurl.call(method!, JSON.parse(body!)).then(
        () => expect.fail('answered without credentials'),
        (error: { code: number }) => expect(error.code).to.equal(status.UNAUTHENTICATED),
      );
    } finally {
      grpcurl.close();
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  };

  it('the JWT block runs as written: its exports, npm start, and a call with a token', async () => {
    await runBlock(/## JWT\n[\s\S]*?```shell\n([\s\S]*?)```/.exec(SECURITY)![1]!, 'reader');
  });

  it('the API key block runs as written: the key, its api-keys.json, npm start, and a call with the key', async () => {
    await runBlock(/## API keys\n[\s\S]*?```shell\n([\s\S]*?)```/.exec(SECURITY)![1]!, 'reader');
  });
});
