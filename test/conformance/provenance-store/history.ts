import { expect } from 'chai';
import { outputHash } from '../../../src/domain/hashing.js';
import { recordAsOf, stateOf } from '../../../src/domain/job-history.js';
import type { JobRecord } from '../../../src/domain/job.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { freshEtag, makeJob, nextJobId } from '../../support/job-records.js';
import { awkwardJson, insertAll } from './helpers.js';
import type { StoreSuite } from './harness.js';

/** The history of records' states: statesAsOf after inserts, replacements and markStale. A part of runProvenanceStoreConformance (index.ts). */
export function describeHistory(suite: StoreSuite): void {
  const { use: useStore } = suite;

  describe('statesAsOf', function () {
    const store = useStore();
    const at = (ms: number) => new Date(Date.UTC(2025, 2, 1, 12, 0, 0) + ms);

    /** The job written QUEUED at 0, RUNNING at 1000, SUCCEEDED at 2000 and marked stale at 3000: the record after each write. */
    async function lifeOfAJob(target: ProvenanceStore): Promise<JobRecord[]> {
      const queued = makeJob({ status: 'QUEUED', createdAt: at(0), metadata: awkwardJson(), labels: { stage: 'queued' } });
      await insertAll(target, [queued]);
      const running: JobRecord = { ...queued, status: 'RUNNING', startedAt: at(1000), updatedAt: at(1000), etag: freshEtag(), labels: { stage: 'running' } };
      expect(await target.replaceJob(running, queued.etag)).to.equal(true);
      const output = awkwardJson();
      const succeeded: JobRecord = {
        ...running,
        status: 'SUCCEEDED',
        cacheState: 'FRESH',
        result: { outputHash: outputHash(output), output, cached: false },
        completedAt: at(2000),
        durationMs: 1000,
        updatedAt: at(2000),
        etag: freshEtag(),
        eventSeq: 3,
      };
      const [replaced] = await target.replaceJobs([{ record: succeeded, expectedEtag: running.etag }]);
      expect(replaced).to.equal(true);
      expect(await target.markStale([queued.jobId], at(3000))).to.equal(1);
      const [stale] = await target.getJobs([queued.jobId]);
      return [queued, running, succeeded, stale!];
    }

    async function stateAt(target: ProvenanceStore, jobId: string, asOf: Date) {
      return (await target.statesAsOf([jobId], asOf)).get(jobId);
    }

    it('answers each write’s state from its time until the next write, and the record as it was from it', async () => {
      const versions = await lifeOfAJob(store());
      const current = versions[3]!;
      const jobId = current.jobId;
      for (const [index, version] of versions.entries()) {
        const from = index * 1000;
        for (const ms of [from, from + 999]) {
          const state = await stateAt(store(), jobId, at(ms));
          expect(state, `at ${ms}`).to.deep.equal(stateOf(version));
          expect(recordAsOf(current, state!), `at ${ms}`).to.deep.equal(version);
        }
      }
      expect(await stateAt(store(), jobId, at(1_000_000_000))).to.deep.equal(stateOf(current));
      expect(current.cacheState).to.equal('STALE');
    });

    it('leaves out the jobs created after the time and unknown ids; answers many jobs in one call', async () => {
      const early = makeJob({ createdAt: at(0) });
      const late = makeJob({ createdAt: at(5000) });
      await insertAll(store(), [early, late]);
      const states = await store().statesAsOf([early.jobId, late.jobId, nextJobId('missing')], at(4999));
      expect([...states.keys()]).to.deep.equal([early.jobId]);
      expect(states.get(early.jobId)).to.deep.equal(stateOf(early));
      const later = await store().statesAsOf([early.jobId, late.jobId], at(5000));
      expect(later.get(late.jobId)).to.deep.equal(stateOf(late));
      expect(later.size).to.equal(2);
      expect((await store().statesAsOf([], at(5000))).size).to.equal(0);
    });

    it('keeps no state of a refused write: a replacement with a stale etag, markStale of an unfinished job, a colliding insert', async () => {
      const job = makeJob({ status: 'RUNNING', createdAt: at(0) });
      await insertAll(store(), [job]);
      const refused: JobRecord = { ...job, status: 'FAILED', updatedAt: at(1000), etag: freshEtag() };
      expect(await store().replaceJob(refused, 'not-the-etag')).to.equal(false);
      expect(await store().markStale([job.jobId], at(2000))).to.equal(0);
      const [outcome] = await store().insertJobs([{ ...job, status: 'SUCCEEDED', cacheState: 'FRESH', etag: freshEtag() }]);
      expect(outcome).to.deep.equal({ inserted: false, conflict: 'JOB_ID' });
      expect(await stateAt(store(), job.jobId, at(3000))).to.deep.equal(stateOf(job));
    });

    it('orders two writes of one millisecond as they were written', async () => {
      const job = makeJob({ status: 'QUEUED', createdAt: at(0) });
      await insertAll(store(), [job]);
      const running: JobRecord = { ...job, status: 'RUNNING', startedAt: at(0), updatedAt: at(0), etag: freshEtag() };
      expect(await store().replaceJob(running, job.etag)).to.equal(true);
      expect(await stateAt(store(), job.jobId, at(0))).to.deep.equal(stateOf(running));
    });
  });
}
