import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { grpcurlCommands, GrpcurlSession, shellCommands } from '../support/grpcurl-session.js';
import { MiniGrpcurl } from '../support/mini-grpcurl.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PAGE = readFileSync(join(ROOT, 'docs/handlers.md'), 'utf8');

/** The page from a heading to the next heading of the same or a higher level. */
function section(heading: string): string {
  const start = PAGE.indexOf(`${heading}\n`);
  expect(start, heading).to.be.at.least(0);
  const level = /^#+/.exec(heading)![0];
  const next = PAGE.slice(start + heading.length).search(new RegExp(`\\n#{1,${level.length}} `));
  return next === -1 ? PAGE.slice(start) : PAGE.slice(start, start + heading.length + next);
}

/** The JSON in the inline code after `label` in that text (e.g. "Output: `{...}`"). */
function shownAfter(text: string, label: string): unknown {
  const match = new RegExp(`${label} \`([^\`]+)\``).exec(text);
  expect(match, `${label} in ${text.slice(0, 40)}`).to.not.equal(null);
  return JSON.parse(match![1]!);
}

/**
 * docs/handlers.md as a reader runs it: the built-in examples in order
 * against a server started with `npm start`, then, after the page's restart
 * with PROVENANCE_HANDLERS, the example module's, on the same data and
 * Redis prefix (so the page's job ids must not clash across the restart).
 */
describe('the job handler examples (docs/handlers.md)', function () {
  this.timeout(90_000);
  let directory: string;
  const prefix = uniqueQueuePrefix();
  const running: Array<{ server: ServerProcess; grpcurl: MiniGrpcurl; session: GrpcurlSession }> = [];
  const start = async (env: Record<string, string>) => {
    const server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_REDIS_PREFIX: prefix, ...env });
    const grpcurl = new MiniGrpcurl(server.address);
    running.push({ server, grpcurl, session: new GrpcurlSession(grpcurl) });
    return running.at(-1)!.session;
  };
  const stop = async () => {
    const { server, grpcurl, session } = running.pop()!;
    session.close();
    grpcurl.close();
    await server.stop();
  };

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-handler-examples-'));
  });
  after(async () => {
    while (running.length > 0) await stop();
    await deleteQueueKeys(prefix);
    rmSync(directory, { recursive: true, force: true });
  });

  it('the built-in handlers run as written, in order, and give the outputs the page shows', async () => {
    const builtIns = section('## Built-in handlers');
    const s = await start({});
    await s.run(grpcurlCommands(builtIns));

    const echo = section('### `echo`');
    const greeting = await s.finished('greeting');
    expect(greeting.status).to.equal('JOB_STATUS_SUCCEEDED');
    expect(greeting.result?.output).to.deep.equal(shownAfter(echo, 'Output:'));
    expect(s.answer('GetJob', 'greeting')).to.deep.include({ status: 'JOB_STATUS_SUCCEEDED', result: JSON.parse(/```json\n([\s\S]*?)```/.exec(echo)![1]!) });

    const sleep = section('### `sleep`');
    expect((await s.finished('short-sleep')).result?.output).to.deep.equal(shownAfter(sleep, 'Output:'));
    // The page promises CANCELLED as soon as CancelJob answers: its answer says so.
    expect(s.answer('CancelJob', 'long-sleep')).to.deep.include({ status: 'JOB_STATUS_CANCELLED' });
    const negative = await s.finished('negative-sleep');
    expect(negative.status).to.equal('JOB_STATUS_FAILED');
    expect(negative.error?.message).to.equal(/Error message: `([^`]+)`/.exec(sleep)![1]);

    const sha256 = section('### `sha256`');
    expect((await s.finished('greeting-hash')).result?.output).to.deep.equal(shownAfter(sha256, 'Output:'));
    const hashed = /hashes `([^`]+)`/.exec(sha256)![1]!;
    expect(JSON.parse(hashed)).to.deep.equal({ parents: [greeting.result?.outputHash], payload: { salt: 'v1' } });

    expect((await s.finished('stats')).result?.output).to.deep.equal(shownAfter(section('### `merge`'), 'Output:'));

    const fail = section('### `fail`');
    const failed = await s.finished('disk-check');
    expect(failed.status).to.equal(/The job ends `(JOB_STATUS_\w+)`/.exec(fail)![1]);
    expect(failed.error?.message).to.equal(/with the message `([^`]+)`/.exec(fail)![1]);
  });

  it('the example module loads as the page starts it, and its jobs give the outputs the page shows', async () => {
    await stop();
    const loading = section('## Loading modules');
    const startCommand = shellCommands(loading).find((words) => words.at(-1) === 'start')!;
    expect(startCommand.slice(-2)).to.deep.equal(['npm', 'start']);
    const env = Object.fromEntries(startCommand.slice(0, -2).map((assignment) => assignment.split('=') as [string, string]));
    expect(Object.keys(env)).to.deep.equal(['PROVENANCE_HANDLERS']);
    // The page's relative path is relative to the server's working directory, the checkout's root.
    const s = await start({ PROVENANCE_HANDLERS: resolve(ROOT, env.PROVENANCE_HANDLERS!) });
    const commands = grpcurlCommands(loading);
    expect(commands).to.have.length(2);
    await s.run(commands);
    const [words, tokens] = [...loading.matchAll(/`(\{[^`]+\})`/g)].map((m) => JSON.parse(m[1]!) as unknown);
    expect((await s.finished('fox-words')).result?.output).to.deep.equal(words);
    expect((await s.finished('weather-tokens')).result?.output).to.deep.equal(tokens);
    // The built-in examples' jobs are still there after the restart.
    expect((await s.finished('greeting')).status).to.equal('JOB_STATUS_SUCCEEDED');
  });
});
