import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { markdownFiles } from '../support/markdown-links.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Each page with commands: the tests that read the page and run the
 * commands of its blocks as written, or why none does.
 */
const PAGES: Record<string, { runBy: string[] } | { notRun: string }> = {
  'README.md': { runBy: ['test/e2e/readme-examples.test.ts'] },
  'docs/grpcurl.md': { runBy: ['test/e2e/readme-examples.test.ts'] },
  'docs/handlers.md': { runBy: ['test/e2e/handler-examples.test.ts'] },
  'docs/security.md': { runBy: ['test/e2e/readme-examples.test.ts', 'test/e2e/security.test.ts'] },
  'docs/rest.md': { runBy: ['test/e2e/rest.test.ts', 'test/e2e/openapi-client.test.ts'] },
  'docs/operations.md': { runBy: ['test/e2e/http.test.ts'] },
  'docs/development.md': { runBy: ['test/generation/development-commands.test.ts'] },
  'bench/README.md': { notRun: 'npm run bench takes 15 to 20 minutes; test/e2e/bench-smoke.test.ts runs every scenario at smoke sizes' },
};

/**
 * The grpcurl, curl and `npm run` commands in the fenced blocks of a page,
 * whatever the block's language: a line whose first word is one of them,
 * after a `$ ` prompt and VAR=value assignments.
 */
function commandsOf(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)) {
    for (const line of block[1]!.split('\n')) {
      const command = line.replace(/^\s*(\$\s+)?/, '').replace(/^([A-Za-z_][A-Za-z0-9_]*=\S*\s+)+/, '');
      if (/^(grpcurl|curl)\s/.test(command) || /^npm run\s/.test(command)) commands.push(command);
    }
  }
  return commands;
}

/** The pages under root with commands, as paths relative to root. */
function pagesWithCommands(root: string): string[] {
  return markdownFiles(root)
    .filter((file) => commandsOf(readFileSync(file, 'utf8')).length > 0)
    .map((file) => relative(root, file))
    .sort();
}

describe('the commands of the documentation pages', () => {
  it('run in npm test: every page with grpcurl, curl or npm run commands is read by a test that runs them, or says why not', () => {
    expect(pagesWithCommands(ROOT)).to.deep.equal(Object.keys(PAGES).sort());
  });

  it('are run by tests that exist and read the page', () => {
    for (const [page, entry] of Object.entries(PAGES)) {
      for (const test of 'runBy' in entry ? entry.runBy : []) {
        expect(existsSync(join(ROOT, test)), test).to.equal(true);
        expect(readFileSync(join(ROOT, test), 'utf8'), `${test} reads ${page}`).to.include(page);
      }
    }
  });

  it('are found in blocks of any language, after a prompt or variables, and not in prose', () => {
    const root = mkdtempSync(join(tmpdir(), 'provenance-doc-commands-'));
    try {
      mkdirSync(join(root, 'docs'));
      writeFileSync(join(root, 'docs', 'console.md'), 'Run:\n\n```console\n$ curl -s 127.0.0.1:8080/healthz\nok\n```\n');
      writeFileSync(join(root, 'docs', 'variables.md'), '```\nTOKEN=x grpcurl -plaintext 127.0.0.1:50051 list\n```\n');
      writeFileSync(join(root, 'docs', 'npm.md'), '```sh\n  npm run lint:proto   # buf lint\n```\n');
      writeFileSync(join(root, 'docs', 'prose.md'), 'Try `curl -s 127.0.0.1:8080/healthz` or grpcurl.\n\n```ts\nconst curl = "curl -s";\nnpm start\n```\n');
      writeFileSync(join(root, 'README.md'), '```sh\nnpm ci && npm start\n```\n');
      expect(pagesWithCommands(root)).to.deep.equal(['docs/console.md', 'docs/npm.md', 'docs/variables.md']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
