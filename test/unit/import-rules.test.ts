import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

/**
 * The folders of src/ and what each may import (besides itself): the rules
 * that each folder's README states. Dependencies point inward: transports →
 * use cases → domain; adapters implement the domain's ports and know no
 * transport and no other adapter (adapters/shared holds what the Redis
 * adapters share); only the composition roots (src/*.ts) know every adapter.
 * `packages` lists the npm packages a folder may import (node: built-ins are
 * open to all but the domain and the use cases, which may use node:crypto
 * only); '*' means any.
 */
const RULES: Record<string, { folders: string[]; packages: string[] | '*' }> = {
  domain: { folders: [], packages: ['canonicalize'] },
  service: { folders: ['domain'], packages: [] },
  'adapters/sqlite': { folders: ['domain', 'platform'], packages: ['better-sqlite3'] },
  'adapters/mongo': { folders: ['domain', 'platform'], packages: ['mongodb'] },
  'adapters/redis-streams': { folders: ['domain', 'platform', 'adapters/shared'], packages: ['ioredis'] },
  'adapters/bee-queue': { folders: ['domain', 'platform', 'adapters/shared'], packages: ['bee-queue', 'ioredis'] },
  'adapters/prometheus': { folders: ['domain', 'platform'], packages: ['prom-client'] },
  'adapters/shared': { folders: ['domain'], packages: ['ioredis'] },
  'adapters/memory': { folders: ['domain'], packages: [] },
  handlers: { folders: ['domain', 'platform'], packages: [] },
  auth: { folders: ['domain', 'config'], packages: ['@grpc/grpc-js', 'jose'] },
  config: { folders: ['domain', 'auth'], packages: [] },
  platform: { folders: ['config'], packages: ['pino'] },
  grpc: { folders: ['domain', 'service', 'auth', 'config', 'platform'], packages: '*' },
  http: { folders: ['domain', 'service', 'auth', 'config', 'platform', 'grpc'], packages: '*' },
  '': { folders: ['*'], packages: '*' },
};
const PURE_BUILTINS = new Set(['node:crypto']);
const PURE_FOLDERS = new Set(['domain', 'service']);

function sourceFiles(directory: string): string[] {
  return readdirSync(join(SRC, directory), { withFileTypes: true }).flatMap((entry) => {
    const path = posix.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The folder a file of src/ belongs to: its first folder, or adapters/<name>; '' for the composition roots. */
export function folderOf(path: string): string {
  const parts = path.split('/');
  if (parts.length === 1) return '';
  return parts[0] === 'adapters' ? parts.slice(0, 2).join('/') : parts[0]!;
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The modules a file imports: static imports and re-exports (types too), side-effect imports and dynamic imports of a literal. */
export function importSpecifiers(text: string): string[] {
  const statements = /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  return [...text.matchAll(statements)].map((match) => (match[1] ?? match[2] ?? match[3])!);
}

/** Every import of a file that its folder's rule refuses, as "file → specifier". */
export function brokenImports(path: string, text: string): string[] {
  const folder = folderOf(path);
  const rule = RULES[folder];
  if (!rule) return [`${path}: its folder '${folder}' has no rule: add one to the import rules and a README saying it`];
  const broken: string[] = [];
  for (const specifier of importSpecifiers(text)) {
    if (specifier.startsWith('.')) {
      const target = folderOf(posix.normalize(posix.join(posix.dirname(path), specifier)));
      if (target === folder || rule.folders.includes('*') || rule.folders.includes(target)) continue;
      broken.push(`${path} → ${specifier} (${folder || 'src'} may not import ${target || 'the composition roots'})`);
    } else if (specifier.startsWith('node:') || builtinModules.includes(specifier)) {
      if (PURE_FOLDERS.has(folder) && !PURE_BUILTINS.has(specifier)) broken.push(`${path} → ${specifier} (${folder} does no I/O)`);
    } else if (rule.packages !== '*' && !rule.packages.includes(packageOf(specifier))) {
      broken.push(`${path} → ${specifier} (${folder} may not import the package ${packageOf(specifier)})`);
    }
  }
  return broken;
}

describe('the import rules of src/', () => {
  it('hold for every file: domain ← use cases ← transports, adapters apart', () => {
    const files = sourceFiles('.');
    expect(files.length).to.be.above(50);
    const broken = files.flatMap((path) => brokenImports(path, readFileSync(join(SRC, path), 'utf8')));
    expect(broken, broken.join('\n')).to.deep.equal([]);
  });

  it('refuse what breaks them', () => {
    expect(brokenImports('domain/x.ts', "import { Database } from 'better-sqlite3';")).to.have.length(1);
    expect(brokenImports('domain/x.ts', "import { readFileSync } from 'node:fs';")).to.have.length(1);
    expect(brokenImports('domain/x.ts', "import { createHash } from 'node:crypto';")).to.deep.equal([]);
    expect(brokenImports('service/x.ts', "import { SqliteProvenanceStore } from '../adapters/sqlite/sqlite-provenance-store.js';")).to.have.length(1);
    expect(brokenImports('service/x.ts', "import { toServiceError } from '../grpc/errors.js';")).to.have.length(1);
    expect(brokenImports('service/x.ts', "import { Redis } from 'ioredis';")).to.have.length(1);
    expect(brokenImports('adapters/mongo/x.ts', "import { schema } from '../sqlite/schema.js';")).to.have.length(1);
    expect(brokenImports('adapters/mongo/x.ts', "import { toServiceError } from '../../grpc/errors.js';")).to.have.length(1);
    expect(brokenImports('adapters/mongo/x.ts', "export { ProvenanceError } from '../../domain/errors.js';")).to.deep.equal([]);
    expect(brokenImports('adapters/memory/x.ts', "import { Redis } from 'ioredis';")).to.have.length(1);
    expect(brokenImports('adapters/memory/x.ts', "import { logger } from '../../platform/logger.js';")).to.have.length(1);
    expect(brokenImports('grpc/x.ts', "import { MongoProvenanceStore } from '../adapters/mongo/mongo-provenance-store.js';")).to.have.length(1);
    expect(brokenImports('newfolder/x.ts', '')).to.have.length(1);
    expect(importSpecifiers("import type {\n  A,\n  B,\n} from './a.js';\nexport * from './b.js';\nimport './c.js';\nconst d = await import('./d.js');")).to.deep.equal(['./a.js', './b.js', './c.js', './d.js']);
  });

  it('let the SQLite adapter touch its database files only through SQLite: from node:fs, mkdirSync alone', () => {
    // Closing a descriptor of the database, its -wal or its -shm opened outside SQLite releases every POSIX lock the process
    // holds on that file, the WAL's write lock included: another process then wrote beside this one, and writes were lost
    // (docs/decisions.md, "The WAL's state through SQLite").
    const offending = sourceFiles('adapters/sqlite').filter((path) => {
      const text = readFileSync(join(SRC, path), 'utf8');
      const fs = importSpecifiers(text).filter((specifier) => /^(node:)?fs(\/|$)/.test(specifier));
      return fs.length > 0 && !(fs.length === 1 && fs[0] === 'node:fs' && text.includes("import { mkdirSync } from 'node:fs';"));
    });
    expect(offending).to.deep.equal([]);
    expect(importSpecifiers("import { openSync } from 'node:fs';")).to.deep.equal(['node:fs']);
  });
});
