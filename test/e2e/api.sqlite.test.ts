import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../support/server-process.js';
import { TEST_LIMITS, describeApi } from './api-suite.js';

const directory = mkdtempSync(join(tmpdir(), 'provenance-e2e-'));

describeApi({
  name: 'SQLite',
  start: () => startServer({ ...TEST_LIMITS, PROVENANCE_STORAGE_TYPE: 'sqlite', PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db') }),
  dispose: async () => rmSync(directory, { recursive: true, force: true }),
});
