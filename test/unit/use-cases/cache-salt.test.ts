import { expect } from 'chai';
import { MemoryProvenanceStore } from '../../../src/adapters/memory/memory-provenance-store.js';
import { SqliteProvenanceStore } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import { ProvenanceError } from '../../../src/domain/errors.js';
import type { JsonObject } from '../../../src/domain/json.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';
import { reportIssues } from '../../support/reproducibility-report.js';
import { rejection } from '../../support/waits.js';

const alice = principal('lab', 'alice');

const submit = (jobId: string, extra: { cacheSalt?: string } = {}, payload: JsonObject = { text: 'same' }) => ({
  jobId,
  type: 'counted',
  payload,
  provider: { id: '', model: '', version: '' },
  parentIds: [],
  labels: {},
  metadata: {},
  readers: [],
  ...extra,
});

const stores: Array<{ name: string; open(): ProvenanceStore }> = [
  { name: 'memory', open: () => new MemoryProvenanceStore() },
  { name: 'SQLite', open: () => SqliteProvenanceStore.open({ path: ':memory:' }) },
];

/**
 * Cache salts (issue #16 item 5) through the use cases: the tenant's salt
 * (PROVENANCE_CACHE_SALTS; here a map the test changes, as a restart with a
 * new configuration would) and the request's enter the cache key, so a new
 * salt makes the old result unreachable for reuse, while the hashes stay.
 */
for (const { name, open } of stores) {
  describe(`use cases: cache salts (${name})`, () => {
    let s: MemoryService;
    let runs: number;
    let tenantSalts: Map<string, string>;
    beforeEach(() => {
      runs = 0;
      tenantSalts = new Map();
      s = memoryService({ store: open(), execution: { tenantCacheSalts: tenantSalts }, handlers: { counted: ({ payload }) => (runs++, payload) } });
    });
    afterEach(() => s.close());

    const run = (jobId: string) => s.service.runDelivery({ jobId, finalAttempt: true, signal: new AbortController().signal });
    const submitAndRun = async (jobId: string, extra: { cacheSalt?: string } = {}) => {
      await s.service.submitJob(alice, submit(jobId, extra));
      await run(jobId);
      return s.service.getJob(alice, jobId);
    };

    it("runs a job again once the tenant's salt changes, and never serves the old result under the new salt", async () => {
      const first = await submitAndRun('first');
      const reused = await submitAndRun('reused');
      expect(reused.result).to.include({ cached: true, cachedFromJobId: 'first' });
      expect(runs).to.equal(1);

      tenantSalts.set('lab', 'poisoned-2026-12-05');
      const rerun = await submitAndRun('after-salt');
      expect(rerun.result?.cached).to.equal(false);
      expect(rerun).to.include({ tenantCacheSalt: 'poisoned-2026-12-05', definitionHash: first.definitionHash, inputHash: first.inputHash });
      expect(runs).to.equal(2);
      const again = await submitAndRun('again');
      expect(again.result).to.include({ cached: true, cachedFromJobId: 'after-salt' });
      expect(runs).to.equal(2);
    });

    it("runs a job again under a request's new salt, and reuses only results of the same salt", async () => {
      await submitAndRun('plain');
      const salted = await submitAndRun('salted', { cacheSalt: 'v2' });
      expect(salted.result?.cached).to.equal(false);
      expect(salted.cacheSalt).to.equal('v2');
      expect((await submitAndRun('salted-again', { cacheSalt: 'v2' })).result).to.include({ cached: true, cachedFromJobId: 'salted' });
      expect((await submitAndRun('plain-again')).result).to.include({ cached: true, cachedFromJobId: 'plain' });
      expect(runs).to.equal(2);
    });

    it("keeps the original's salt on a rerun unless the rerun names one, and takes the tenant's salt of now", async () => {
      await submitAndRun('original', { cacheSalt: 'v1' });
      tenantSalts.set('lab', 't2');
      const kept = await s.service.rerunJob(alice, { jobId: 'original', parentIds: [], replaceParents: false });
      expect(kept).to.include({ cacheSalt: 'v1', tenantCacheSalt: 't2' });
      const renamed = await s.service.rerunJob(alice, { jobId: 'original', parentIds: [], replaceParents: false, cacheSalt: 'v3' });
      expect(renamed).to.include({ cacheSalt: 'v3', tenantCacheSalt: 't2' });
    });

    it('makes a recorded result reusable under its salt only', async () => {
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'recorded', type: 'counted', payload: { text: 'same' }, output: { text: 'same' }, outputHash: undefined, cacheSalt: 'ext' }));
      expect((await submitAndRun('unsalted')).result?.cached).to.equal(false);
      expect((await submitAndRun('salted', { cacheSalt: 'ext' })).result).to.include({ cached: true, cachedFromJobId: 'recorded' });
    });

    it("reports CACHE_SALT_MISMATCH once the tenant's salt is not the one a result was made under", async () => {
      await submitAndRun('made');
      expect(await reportIssues(await s.service.checkReproducibility(alice, 'made'))).to.deep.equal([]);
      tenantSalts.set('lab', 'new');
      const issues = await reportIssues(await s.service.checkReproducibility(alice, 'made'));
      expect(issues.map((issue) => [issue.reason, issue.jobId])).to.deep.equal([['CACHE_SALT_MISMATCH', 'made']]);
    });

    it('refuses a salt that is too long or not printable with INVALID_ARGUMENT naming cache_salt', async () => {
      for (const cacheSalt of ['x'.repeat(129), 'with space', 'tab\t']) {
        const error = await rejection(s.service.submitJob(alice, submit('bad', { cacheSalt })));
        expect(error).to.be.instanceOf(ProvenanceError);
        expect((error as ProvenanceError).code).to.equal('INVALID_ARGUMENT');
        expect(JSON.stringify(error)).to.contain('cache_salt');
      }
      await submitAndRun('original');
      const error = await rejection(s.service.rerunJob(alice, { jobId: 'original', parentIds: [], replaceParents: false, cacheSalt: 'é' }));
      expect((error as ProvenanceError).code).to.equal('INVALID_ARGUMENT');
    });
  });
}
