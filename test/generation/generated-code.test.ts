import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUF = join(ROOT, 'node_modules/.bin/buf');

function filesUnder(directory: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      // Python writes its bytecode next to the modules it imports; it is not generated code.
      if (name === '__pycache__') continue;
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(relative(directory, full), readFileSync(full));
    }
  };
  walk(directory);
  return files;
}

describe('generated code', function () {
  this.timeout(120_000);

  it('is exactly what `npm run generate` produces from proto/', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'provenance-generate-'));
    try {
      // The same steps as `npm run generate`, written into a scratch directory.
      const templates = ['buf.gen.yaml', 'clients/ts/buf.gen.yaml', 'clients/python/buf.gen.yaml', 'clients/go/buf.gen.yaml'];
      for (const template of templates) execFileSync(BUF, ['generate', '--template', template, '-o', scratch], { cwd: ROOT, stdio: 'pipe' });
      execFileSync(BUF, ['build', '-o', join(scratch, 'src/gen/provenance.binpb')], { cwd: ROOT, stdio: 'pipe' });
      execFileSync(process.execPath, ['scripts/finish-openapi.mjs', join(scratch, 'src/gen/openapi/provenance.swagger.json')], { cwd: ROOT, stdio: 'pipe' });
      const templateOutputs = templates.flatMap((template) => [...readFileSync(join(ROOT, template), 'utf8').matchAll(/^\s*out:\s*(\S+)\s*$/gm)].map((m) => m[1]!));
      // src/gen holds the OpenAPI document and the descriptor set; the TypeScript stubs exist once, in the client package.
      const outputs = [...new Set(['src/gen', ...templateOutputs])];
      expect(outputs).to.include.members(['src/gen', 'clients/ts/src/gen', 'clients/python/gen', 'clients/go/gen']);
      for (const output of outputs) {
        const committed = filesUnder(join(ROOT, output));
        const fresh = filesUnder(join(scratch, output));
        expect([...committed.keys()].sort(), `files under ${output}`).to.deep.equal([...fresh.keys()].sort());
        for (const [path, bytes] of fresh) {
          expect(committed.get(path)!.equals(bytes), `${output}/${path} differs from what generation makes: run npm run generate`).to.equal(true);
        }
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
