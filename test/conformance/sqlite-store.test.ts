import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteProvenanceStore } from '../../src/store/sqlite/sqlite-provenance-store.js';
import { runProvenanceStoreConformance } from './provenance-store.js';

// Files rather than ':memory:', so that the suite runs on what production runs: WAL journal, real I/O.
const directory = mkdtempSync(join(tmpdir(), 'provenance-sqlite-conformance-'));
let opened = 0;

function openStore(): SqliteProvenanceStore {
  return SqliteProvenanceStore.open({ path: join(directory, `store-${++opened}`, 'provenance.sqlite') });
}

runProvenanceStoreConformance({
  name: 'SQLite',
  async create() {
    return openStore();
  },
  async createBreakable() {
    const store = openStore();
    // A closed connection is a database the store can no longer use.
    return { store, breakDatabase: () => store.close() };
  },
  async dispose() {
    rmSync(directory, { recursive: true, force: true });
  },
});
