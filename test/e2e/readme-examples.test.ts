import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Metadata } from '@grpc/grpc-js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { makeApiKey, makeHmacSecret, sha256Hex, signToken } from '../support/credentials.js';
import { MiniGrpcurl } from '../support/mini-grpcurl.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
/** How long a job or a followed stream may take to get where the README shows it, on a busy machine. */
const SETTLE_DEADLINE_MS = 30_000;

/** The grpcurl commands of the README's blocks of that language, split into words as a shell would. */
function grpcurlCommands(markdown: string, language = 'sh'): string[][] {
  const blocks = [...markdown.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
  const commands: string[][] = [];
  for (const block of blocks) {
    let words: string[] = [];
    let word: string | undefined;
    for (let i = 0; i < block.length; i++) {
      const c = block[i]!;
      if (c === "'") {
        const end = block.indexOf("'", i + 1);
        word = (word ?? '') + block.slice(i + 1, end);
        i = end;
      } else if (c === '\\' && block[i + 1] === '\n') {
        i++;
      } else if (c === '#' && word === undefined) {
        i = block.indexOf('\n', i) - 1;
      } else if (c === '"') {
        const end = block.indexOf('"', i + 1);
        word = (word ?? '') + block.slice(i + 1, end);
        i = end;
      } else if (c === ' ' || c === '\n') {
        if (word !== undefined) words.push(word);
        word = undefined;
        if (c === '\n') {
          if (words[0] === 'grpcurl') commands.push(words);
          words = [];
        }
      } else {
        word = (word ?? '') + c;
      }
    }
  }
  return commands;
}

describe('the grpcurl examples of the README', function () {
  this.timeout(60_000);
  let directory: string;
  let server: ServerProcess;
  let grpcurl: MiniGrpcurl;
  const prefix = uniqueQueuePrefix();

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-readme-'));
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_REDIS_PREFIX: prefix });
    grpcurl = new MiniGrpcurl(server.address);
  });
  after(async () => {
    grpcurl.close();
    await server.stop();
    await deleteQueueKeys(prefix);
    rmSync(directory, { recursive: true, force: true });
  });

  const job = (jobId: string) => grpcurl.call('provenance.v1.ProvenanceService/GetJob', { jobId }) as Promise<{ status: string; type: string; parentJobIds?: string[]; cacheState?: string; error?: { reason: string }; result?: { cached?: boolean } }>;

  /**
   * A person reads the output before typing the next command; the test waits
   * instead, for a submitted job to finish, or to be running or waiting on a
   * running job (the long sleep that the README cancels).
   */
  async function settled(jobId: string): Promise<void> {
    for (const deadline = Date.now() + SETTLE_DEADLINE_MS; Date.now() < deadline; ) {
      const current = await job(jobId);
      if (['JOB_STATUS_SUCCEEDED', 'JOB_STATUS_FAILED', 'JOB_STATUS_CANCELLED'].includes(current.status)) return;
      if (current.status === 'JOB_STATUS_RUNNING' && current.type === 'sleep') return;
      if (current.status === 'JOB_STATUS_WAITING') {
        const parents = await Promise.all((current.parentJobIds ?? []).map(job));
        if (parents.some((p) => p.status === 'JOB_STATUS_RUNNING' && p.type === 'sleep')) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`job ${jobId} did not settle`);
  }

  it('run as written, in order, and give the answer the README shows', async () => {
    const commands = grpcurlCommands(README);
    expect(commands.length).to.be.at.least(10);
    const answers = new Map<string, unknown>();
    const streams: Array<{ messages: unknown[]; close(): void }> = [];
    for (const words of commands) {
      expect(words.slice(0, 2), words.join(' ')).to.deep.equal(['grpcurl', '-plaintext']);
      const body = words[2] === '-d' ? (JSON.parse(words[3]!) as Record<string, unknown>) : undefined;
      const [address, verb, symbol] = words.slice(body ? 4 : 2);
      expect(address).to.equal('127.0.0.1:50051');
      if (verb === 'list') expect(await grpcurl.list()).to.include('provenance.v1.ProvenanceService');
      else if (verb === 'describe') expect((await grpcurl.describe(symbol!)).files).to.not.be.empty;
      else if (verb!.endsWith('/WatchEvents')) {
        // It runs in a second terminal: it keeps following while the next commands run.
        streams.push(await grpcurl.stream(verb!, (body ?? {}) as never));
      } else {
        const answer = (await grpcurl.call(verb!, (body ?? {}) as never)) as { jobId?: string };
        answers.set(`${verb} ${JSON.stringify(body ?? {})}`, answer);
        if (/\/(SubmitJob|RerunJob)$/.test(verb!)) await settled(answer.jobId!);
      }
    }
    const shown = JSON.parse(/The first answers[^`]*```json\n([\s\S]*?)```/.exec(README)![1]!) as unknown;
    const lineage = [...answers].find(([key]) => key.startsWith('provenance.v1.ProvenanceService/GetLineage'))![1];
    expect(lineage).to.deep.equal(shown);
    const answer = (method: string, jobId: string) => [...answers].find(([key]) => key.startsWith(`provenance.v1.ProvenanceService/${method} {"jobId":"${jobId}"`))![1];
    const dotShown = /```dot\n([\s\S]*?)```/.exec(README)![1]!;
    expect(answer('ExportProvenanceGraph', 'model')).to.deep.include({ format: 'GRAPH_FORMAT_DOT', contentType: 'text/vnd.graphviz', content: dotShown });
    expect(answer('CheckReproducibility', 'bundle')).to.deep.include({ reproducible: true });
    expect(await job('digest-again')).to.deep.include({ status: 'JOB_STATUS_SUCCEEDED', result: { ...(await job('digest')).result, cached: true, cachedFromJobId: 'digest' } });
    expect(answer('RerunJob', 'doc')).to.deep.include({ rerunOfJobId: 'doc' });
    expect(answer('InvalidateCache', 'doc')).to.deep.equal({ affectedJobIds: ['doc', 'bundle', 'digest', 'digest-again'], affectedCount: 4, dryRun: true });
    expect((await job('bundle')).cacheState).to.equal('CACHE_STATE_STALE');
    expect((await job('nap')).status).to.equal('JOB_STATUS_CANCELLED');
    await settled('after-nap');
    expect((await job('after-nap')).error?.reason).to.equal('DEPENDENCY_FAILED');
    expect(streams).to.have.length(1);
    const followed = () => (streams[0]!.messages as Array<{ event: { type: string; jobId: string } }>).map((m) => `${m.event.jobId} ${m.event.type}`);
    for (const deadline = Date.now() + SETTLE_DEADLINE_MS; followed().length < 9 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
    streams[0]!.close();
    expect(followed()).to.deep.equal([
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

describe('the authentication examples of the README', function () {
  this.timeout(60_000);

  it('work as written, with a token and with an API key', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'provenance-readme-auth-'));
    const secret = makeHmacSecret();
    const key = makeApiKey();
    const issuer = /PROVENANCE_JWT_ISSUER=(\S+)/.exec(README)![1]!;
    const audience = /PROVENANCE_JWT_AUDIENCE=(\S+)/.exec(README)![1]!;
    writeFileSync(join(directory, 'api-keys.json'), JSON.stringify([{ id: 'ci', sha256: sha256Hex(key), subject: 'ci-bot', tenant: 'acme', roles: ['submitter'] }]));
    const server = await startServer({
      PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'),
      PROVENANCE_JWT_SECRET: secret,
      PROVENANCE_JWT_ISSUER: issuer,
      PROVENANCE_JWT_AUDIENCE: audience,
      PROVENANCE_API_KEYS_FILE: join(directory, 'api-keys.json'),
    });
    const grpcurl = new MiniGrpcurl(server.address);
    try {
      const variables: Record<string, string> = {
        TOKEN: await signToken({ sub: 'alice', tenant: 'acme', roles: ['reader'], iss: issuer, aud: audience, exp: Math.floor(Date.now() / 1000) + 600 }, 'HS256', secret),
        KEY: key,
      };
      // The mTLS example (-cacert/-cert/-key) needs certificates: test/e2e/security.test.ts makes that call.
      const commands = grpcurlCommands(README, 'shell').filter((words) => words[1] === '-plaintext');
      expect(commands).to.have.length(2);
      for (const words of commands) {
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
      }
    } finally {
      grpcurl.close();
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
