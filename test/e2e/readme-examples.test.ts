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
const WALKTHROUGH = readFileSync(new URL('../../../docs/grpcurl.md', import.meta.url), 'utf8');
const SECURITY = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');

/** The grpcurl commands of a page's blocks of that language, split into words as a shell would. */
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

type JobView = { status: string; type: string; parentJobIds?: string[]; cacheState?: string; error?: { reason: string }; result?: { cached?: boolean } };

/**
 * Runs grpcurl commands as a person would, in order, against one server: a
 * WatchEvents call runs "in a second terminal" (it keeps following while the
 * next commands run), and a person reads a submitted job's output before
 * typing the next command, so the next command waits for the job to settle.
 */
class Session {
  readonly answers = new Map<string, unknown>();
  readonly streams: Array<{ messages: unknown[]; close(): void }> = [];

  constructor(private readonly grpcurl: MiniGrpcurl) {}

  job(jobId: string): Promise<JobView> {
    return this.grpcurl.call('provenance.v1.ProvenanceService/GetJob', { jobId }) as Promise<JobView>;
  }

  /** The answer of the first command of that method whose request starts with that job id. */
  answer(method: string, jobId: string): unknown {
    return [...this.answers].find(([key]) => key.startsWith(`provenance.v1.ProvenanceService/${method} {"jobId":"${jobId}"`))![1];
  }

  /** The events the stream of the nth WatchEvents command received so far, as "<job id> <type>". */
  followed(n = 0): string[] {
    return (this.streams[n]!.messages as Array<{ event: { type: string; jobId: string } }>).map((m) => `${m.event.jobId} ${m.event.type}`);
  }

  /** Polls, with a generous deadline, until the nth stream has received that many events. */
  async follow(count: number, n = 0): Promise<string[]> {
    for (let i = 0; i < 400 && this.followed(n).length < count; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    return this.followed(n);
  }

  /** Waits for a submitted job to finish, or to be running or waiting on a running job (a long sleep that is cancelled next). */
  async settled(jobId: string): Promise<void> {
    for (let i = 0; i < 400; i++) {
      const current = await this.job(jobId);
      if (['JOB_STATUS_SUCCEEDED', 'JOB_STATUS_FAILED', 'JOB_STATUS_CANCELLED'].includes(current.status)) return;
      if (current.status === 'JOB_STATUS_RUNNING' && current.type === 'sleep') return;
      if (current.status === 'JOB_STATUS_WAITING') {
        const parents = await Promise.all((current.parentJobIds ?? []).map((parent) => this.job(parent)));
        if (parents.some((p) => p.status === 'JOB_STATUS_RUNNING' && p.type === 'sleep')) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`job ${jobId} did not settle`);
  }

  async run(commands: string[][]): Promise<void> {
    for (const words of commands) {
      expect(words.slice(0, 2), words.join(' ')).to.deep.equal(['grpcurl', '-plaintext']);
      const body = words[2] === '-d' ? (JSON.parse(words[3]!) as Record<string, unknown>) : undefined;
      const [address, verb, symbol] = words.slice(body ? 4 : 2);
      expect(address).to.equal('127.0.0.1:50051');
      if (verb === 'list') expect(await this.grpcurl.list()).to.include('provenance.v1.ProvenanceService');
      else if (verb === 'describe') expect((await this.grpcurl.describe(symbol!)).files).to.not.be.empty;
      else if (verb!.endsWith('/WatchEvents')) this.streams.push(await this.grpcurl.stream(verb!, (body ?? {}) as never));
      else {
        const answer = (await this.grpcurl.call(verb!, (body ?? {}) as never)) as { jobId?: string };
        this.answers.set(`${verb} ${JSON.stringify(body ?? {})}`, answer);
        if (/\/(SubmitJob|RerunJob)$/.test(verb!)) await this.settled(answer.jobId!);
      }
    }
  }

  close(): void {
    for (const stream of this.streams) stream.close();
  }
}

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
  const sessions: Session[] = [];
  const prefix = uniqueQueuePrefix();
  const session = () => {
    sessions.push(new Session(grpcurl));
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

  it('work as written, with a token and with an API key', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'provenance-readme-auth-'));
    const secret = makeHmacSecret();
    const key = makeApiKey();
    const issuer = /PROVENANCE_JWT_ISSUER=(\S+)/.exec(SECURITY)![1]!;
    const audience = /PROVENANCE_JWT_AUDIENCE=(\S+)/.exec(SECURITY)![1]!;
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
      const commands = grpcurlCommands(SECURITY, 'shell').filter((words) => words[1] === '-plaintext');
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
