import { expect } from 'chai';
import { MemoryProvenanceStore } from '../../../src/adapters/memory/memory-provenance-store.js';
import { SqliteProvenanceStore } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import type { JobRecord } from '../../../src/domain/job.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { recordJobCommand, submitJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';

const alice = principal('lab', 'alice');
const bob = principal('lab', 'bob');
const admin = principal('lab', 'ada', ['admin']);

const stores: Array<{ name: string; open(): ProvenanceStore }> = [
  { name: 'memory', open: () => new MemoryProvenanceStore() },
  { name: 'SQLite', open: () => SqliteProvenanceStore.open({ path: ':memory:' }) },
];

const submit = (jobId: string, parentIds: string[]) => submitJobCommand(jobId, { type: 'gated', parentIds });

/**
 * A result built on an invalidated one is STALE (docs/decisions.md,
 * "Results built on stale ones"): a job that was running while its parent
 * was invalidated, one that finished while InvalidateCache walked, and a
 * record naming a STALE parent.
 */
for (const { name, open } of stores) {
  describe(`use cases: results built on stale ones (${name})`, () => {
    let s: MemoryService;
    let store: ProvenanceStore;
    let release: () => void;
    let gate: Promise<void>;
    beforeEach(async () => {
      gate = new Promise((resolve) => (release = resolve));
      store = open();
      s = memoryService({ store, handlers: { gated: async ({ payload }) => (await gate, payload) } });
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'r' }));
    });
    afterEach(() => s.close());

    const run = (jobId: string) => s.service.runDelivery({ jobId, finalAttempt: true, signal: new AbortController().signal });
    const stored = async (jobId: string): Promise<JobRecord> => (await store.getJobs([jobId]))[0]!;
    /** Waits, without a fixed sleep, until the job's worker holds it RUNNING. */
    const running = async (jobId: string) => {
      while ((await stored(jobId)).status !== 'RUNNING') await new Promise((resolve) => setImmediate(resolve));
    };
    const invalidations = async () => (await s.events.read(undefined, 10_000)).filter((event) => event.type === 'cache.invalidated').map((event) => [event.jobId, event.affectedCount]);

    it('makes STALE a job that was running on a result invalidated meanwhile, before the jobs waiting on it start, and says so in an event', async () => {
      await s.service.submitJob(alice, submit('c', ['r']));
      await s.service.submitJob(alice, submit('g', ['c']));
      const runningC = run('c');
      await running('c');
      const answer = await s.service.invalidateCache(alice, { jobId: 'r', dryRun: false });
      expect(answer.affectedJobIds).to.deep.equal(['r']);
      // A result recorded on c while it ran is built on it too: FRESH until c finishes STALE.
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'rc', parentIds: ['c'] }));
      expect(await stored('rc')).to.include({ cacheState: 'FRESH' });
      release();
      await runningC;
      expect(await stored('c')).to.include({ status: 'SUCCEEDED', cacheState: 'STALE' });
      expect(await stored('rc')).to.include({ status: 'SUCCEEDED', cacheState: 'STALE' });
      expect(await invalidations()).to.deep.equal([
        ['r', 1],
        ['c', 2],
      ]);
      // g waited on c: it runs on a STALE result, and finishes STALE too.
      await run('g');
      expect(await stored('g')).to.include({ status: 'SUCCEEDED', cacheState: 'STALE' });
    });

    it("leaves FRESH a job of another owner running on it, as InvalidateCache leaves another owner's finished jobs", async () => {
      await s.service.submitJob(bob, submit('bobs', ['r']));
      const runningBobs = run('bobs');
      await running('bobs');
      await s.service.invalidateCache(alice, { jobId: 'r', dryRun: false });
      release();
      await runningBobs;
      expect(await stored('bobs')).to.include({ status: 'SUCCEEDED', cacheState: 'FRESH' });
    });

    it('marks a descendant that finished while InvalidateCache walked, walking again until a walk finds none', async () => {
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'p', parentIds: ['r'] }));
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'late', parentIds: ['p'], status: 'RUNNING', outputHash: undefined }));
      await s.service.recordJob(bob, recordJobCommand({ jobId: 'bobs-late', parentIds: ['p'], status: 'RUNNING', outputHash: undefined }));
      // Both finish right after the walk that finds the descendants, before the invalidation is written: their records said RUNNING to it.
      const lineage = store.lineage.bind(store);
      let walks = 0;
      store.lineage = async (query) => {
        const rows = await lineage(query);
        if (query.direction === 'DESCENDANTS' && walks++ === 0) {
          await s.service.recordJob(alice, recordJobCommand({ jobId: 'late', parentIds: ['p'] }));
          await s.service.recordJob(bob, recordJobCommand({ jobId: 'bobs-late', parentIds: ['p'] }));
        }
        return rows;
      };
      const answer = await s.service.invalidateCache(admin, { jobId: 'r', dryRun: false });
      const sorted = (ids: readonly string[] | undefined) => [...(ids ?? [])].sort();
      expect(answer.affectedJobIds.slice(0, 2)).to.deep.equal(['r', 'p']);
      expect(sorted(answer.affectedJobIds.slice(2))).to.deep.equal(['bobs-late', 'late']);
      expect(answer.affectedCount).to.equal(4);
      for (const jobId of ['r', 'p', 'late', 'bobs-late']) expect(await stored(jobId), jobId).to.include({ cacheState: 'STALE' });
      expect(await invalidations()).to.deep.equal([
        ['r', 2],
        ['r', 2],
      ]);
    });

    it("walks again after a changed rerun's invalidation, marking a descendant that finished meanwhile", async () => {
      // p's recorded output hash is one no handler gives: its rerun changes the output.
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'p', type: 'gated', payload: { text: 'p' }, outputHash: 'sha256:fake' }));
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'child', parentIds: ['p'] }));
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'late', parentIds: ['p'], status: 'RUNNING', outputHash: undefined }));
      const lineage = store.lineage.bind(store);
      let walks = 0;
      store.lineage = async (query) => {
        const rows = await lineage(query);
        if (query.direction === 'DESCENDANTS' && walks++ === 0) await s.service.recordJob(alice, recordJobCommand({ jobId: 'late', parentIds: ['p'] }));
        return rows;
      };
      const rerun = await s.service.rerunJob(alice, { jobId: 'p', parentIds: [], replaceParents: false });
      release();
      await run(rerun.jobId);
      expect(await stored('child')).to.include({ cacheState: 'STALE' });
      expect(await stored('late')).to.include({ cacheState: 'STALE' });
      expect(await stored('p')).to.include({ cacheState: 'FRESH' });
    });

    it('walks no more once a walk finds only jobs the caller may not mark', async () => {
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'p', parentIds: ['r'] }));
      await s.service.recordJob(bob, recordJobCommand({ jobId: 'bobs-late', parentIds: ['p'], status: 'RUNNING', outputHash: undefined }));
      const lineage = store.lineage.bind(store);
      let descendantWalks = 0;
      let summaryWalks = 0;
      store.lineage = async (query) => {
        const rows = await lineage(query);
        if (query.projection === 'SUMMARY') summaryWalks++;
        if (query.direction === 'DESCENDANTS' && descendantWalks++ === 0) await s.service.recordJob(bob, recordJobCommand({ jobId: 'bobs-late', parentIds: ['p'] }));
        return rows;
      };
      const answer = await s.service.invalidateCache(alice, { jobId: 'r', dryRun: false });
      expect(answer.affectedJobIds).to.deep.equal(['r', 'p']);
      expect(await stored('bobs-late')).to.include({ cacheState: 'FRESH' });
      expect(summaryWalks).to.equal(1);
    });

    it('makes STALE the jobs recorded on a record before it was written STALE: recorded while it ran, or naming it before it existed', async () => {
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'p1', parentIds: ['r'], status: 'RUNNING', outputHash: undefined }));
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'c2', parentIds: ['p2'], allowMissingParents: true }));
      await s.service.invalidateCache(alice, { jobId: 'r', dryRun: false });
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'c1', parentIds: ['p1'] }));
      expect(await stored('c1')).to.include({ cacheState: 'FRESH' });
      const p1 = await s.service.recordJob(alice, recordJobCommand({ jobId: 'p1', parentIds: ['r'] }));
      const p2 = await s.service.recordJob(alice, recordJobCommand({ jobId: 'p2', parentIds: ['r'] }));
      expect([p1.cacheState, p2.cacheState]).to.deep.equal(['STALE', 'STALE']);
      expect(await stored('c1')).to.include({ cacheState: 'STALE' });
      expect(await stored('c2')).to.include({ cacheState: 'STALE' });
    });

    it('marks a batch recorded on a STALE parent once each, whichever order its records come in', async () => {
      await s.service.invalidateCache(alice, { jobId: 'r', dryRun: false });
      const chain = Array.from({ length: 30 }, (_, i) => recordJobCommand({ jobId: `c${i}`, parentIds: [i === 0 ? 'r' : `c${i - 1}`] }));
      // Parents first: each record sees the one before it STALE, and nothing is walked again.
      await s.service.batchRecordJobs(alice, chain);
      // Children first: they see no parent yet, and the first record, made STALE last, takes them with it.
      const reversed = chain.map((command) => ({ ...command, jobId: `b${command.jobId}`, parentIds: command.parentIds.map((id) => (id === 'r' ? 'r' : `b${id}`)) })).reverse();
      await s.service.batchRecordJobs(alice, reversed.map((command) => ({ ...command, allowMissingParents: true })));
      const ids = [...chain, ...reversed].map((command) => command.jobId!);
      expect((await store.getJobs(ids)).filter((job) => job.cacheState !== 'STALE').map((job) => job.jobId)).to.deep.equal([]);
      const events = await invalidations();
      // r's own; each record of the first batch its own; of the second, bc0's own and one naming the 29 below it.
      expect(events.filter(([jobId]) => chain.some((command) => command.jobId === jobId))).to.have.length(30);
      expect(events.filter(([jobId]) => jobId === 'bc0')).to.deep.equal([
        ['bc0', 1],
        ['bc0', 29],
      ]);
      expect(events).to.have.length(1 + 30 + 2);
    });

    it('records STALE a result recorded on a STALE parent of its owner, FRESH on one of another owner', async () => {
      await s.service.invalidateCache(alice, { jobId: 'r', dryRun: false });
      const own = await s.service.recordJob(alice, recordJobCommand({ jobId: 'own', parentIds: ['r'] }));
      const others = await s.service.recordJob(bob, recordJobCommand({ jobId: 'others', parentIds: ['r'] }));
      expect(own.cacheState).to.equal('STALE');
      expect(others.cacheState).to.equal('FRESH');
      // Moved forward to SUCCEEDED later: the same.
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'later', parentIds: ['r'], status: 'RUNNING', outputHash: undefined }));
      const later = await s.service.recordJob(alice, recordJobCommand({ jobId: 'later', parentIds: ['r'] }));
      expect(later.cacheState).to.equal('STALE');
      // And within a batch, on a parent the batch made STALE... a batch cannot: on one recorded STALE before it.
      const [batched] = await s.service.batchRecordJobs(alice, [recordJobCommand({ jobId: 'batched', parentIds: ['own'] })]);
      expect(batched!.ok && batched!.job.cacheState).to.equal('STALE');
      // Each says so in its own cache.invalidated event, as a worker's result does.
      expect(await invalidations()).to.deep.equal([
        ['r', 1],
        ['own', 1],
        ['later', 1],
        ['batched', 1],
      ]);
    });
  });
}
