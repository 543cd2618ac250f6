import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MiniGrpcurl } from '../support/mini-grpcurl.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The grpcurl commands of the README's sh blocks, split into words as a shell would. */
function grpcurlCommands(markdown: string): string[][] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
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

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-readme-'));
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db') });
    grpcurl = new MiniGrpcurl(server.address);
  });
  after(async () => {
    grpcurl.close();
    await server.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('run as written, in order, and give the answer the README shows', async () => {
    const commands = grpcurlCommands(README);
    expect(commands.length).to.be.at.least(10);
    const answers = new Map<string, unknown>();
    for (const words of commands) {
      expect(words.slice(0, 2), words.join(' ')).to.deep.equal(['grpcurl', '-plaintext']);
      const body = words[2] === '-d' ? (JSON.parse(words[3]!) as Record<string, unknown>) : undefined;
      const [address, verb, symbol] = words.slice(body ? 4 : 2);
      expect(address).to.equal('127.0.0.1:50051');
      if (verb === 'list') expect(await grpcurl.list()).to.include('provenance.v1.ProvenanceService');
      else if (verb === 'describe') expect((await grpcurl.describe(symbol!)).files).to.not.be.empty;
      else answers.set(`${verb} ${JSON.stringify(body ?? {})}`, await grpcurl.call(verb!, (body ?? {}) as never));
    }
    const shown = JSON.parse(/The first answers[^`]*```json\n([\s\S]*?)```/.exec(README)![1]!) as unknown;
    const lineage = [...answers].find(([key]) => key.startsWith('provenance.v1.ProvenanceService/GetLineage'))![1];
    expect(lineage).to.deep.equal(shown);
    const reproducibility = [...answers].find(([key]) => key.includes('CheckReproducibility'))![1];
    expect(reproducibility).to.deep.include({ reproducible: true });
  });
});
