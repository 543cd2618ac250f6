import { expect } from 'chai';
import { MemoryProvenanceStore } from '../../../src/adapters/memory/memory-provenance-store.js';
import { SqliteProvenanceStore } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import type { JobRecord } from '../../../src/domain/job.js';
import { NO_METRICS } from '../../../src/domain/ports/metrics.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { EventRelay } from '../../../src/service/event-stream/event-relay.js';
import { freshEtag, recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';

const alice = principal('lab', 'alice');
const bob = principal('lab', 'bob');
const QUIET_LOG = { debug() {}, info() {}, warn() {}, error() {} };

const stores: Array<{ name: string; open(): ProvenanceStore }> = [
  { name: 'memory', open: () => new MemoryProvenanceStore() },
  { name: 'SQLite', open: () => SqliteProvenanceStore.open({ path: ':memory:' }) },
];

const WRITES = new Set<PropertyKey>(['insertJobs', 'replaceJob', 'replaceJobs', 'replaceJobsTogether', 'markStale', 'clearPendingEvents']);

/**
 * The store of a server killed (kill -9) right after the write that made the
 * watched job SUCCEEDED: every write after it rejects, as a dead process
 * makes none. revive() is the restart.
 */
function killedAfterResult(store: ProvenanceStore) {
  let watched: string | undefined;
  let killed = false;
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (!WRITES.has(property) || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (killed) throw new Error('the server was killed');
        const answer: unknown = await value.apply(target, args);
        if (watched !== undefined && (await target.getJobs([watched]))[0]?.status === 'SUCCEEDED') killed = true;
        return answer;
      };
    },
  });
  return {
    store: proxy,
    watch(jobId: string) {
      watched = jobId;
    },
    killed: () => killed,
    revive() {
      killed = false;
      watched = undefined;
    },
  };
}

/**
 * A rerun whose output differs from the earlier result makes that result's
 * descendants STALE: its SUCCEEDED write carries the earlier job's
 * cache.invalidated event in the same transaction, so no crash can take
 * the two apart (docs/decisions.md, "Invalidation").
 */
for (const { name, open } of stores) {
  describe(`use cases: a changed rerun's invalidation (${name})`, () => {
    let raw: ProvenanceStore;
    let server: ReturnType<typeof killedAfterResult>;
    let s: MemoryService;
    let cancelWhileRunning: boolean;
    beforeEach(async () => {
      cancelWhileRunning = false;
      raw = open();
      server = killedAfterResult(raw);
      s = memoryService({
        store: server.store,
        handlers: {
          rerunnable: async ({ jobId, payload }) => {
            if (cancelWhileRunning) await s.service.cancelJob(alice, { jobId, reason: 'no longer needed' });
            return payload;
          },
        },
      });
      // The killed server's event log takes nothing either.
      const append = s.events.append.bind(s.events);
      s.events.append = (events) => (server.killed() ? Promise.reject(new Error('the server was killed')) : append(events));
      // p's recorded output hash is one no handler gives: any run of it changes the output.
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'p', type: 'rerunnable', payload: { text: 'tag' }, outputHash: 'sha256:fake' }));
      const children = Array.from({ length: 5 }, (_, i) => recordJobCommand({ jobId: `child-${i}`, parentIds: ['p'] }));
      expect((await s.service.batchRecordJobs(alice, children)).every((outcome) => outcome.ok)).to.equal(true);
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'grandchild', parentIds: ['child-0'] }));
      await s.service.recordJob(bob, recordJobCommand({ jobId: 'bobs', parentIds: ['p'] }));
    });
    afterEach(() => s.close());

    const alicesDescendants = ['child-0', 'child-1', 'child-2', 'child-3', 'child-4', 'grandchild'];
    const run = (jobId: string) => s.service.runDelivery({ jobId, finalAttempt: true, signal: new AbortController().signal });
    const cacheStates = async (jobIds: string[]) => (await raw.getJobs(jobIds)).map((job) => [job.jobId, job.cacheState]).sort();
    const invalidationsOf = (record: JobRecord) => (record.pendingEvents ?? []).filter((event) => event.type === 'cache.invalidated');
    const published = async () => (await s.events.read(undefined, 10_000)).filter((event) => event.type === 'cache.invalidated');

    it('leaves, once the SUCCEEDED write returns, the invalidation in the outbox of the earlier result, which the relay sweep of a restarted server completes', async () => {
      const rerun = await s.service.rerunJob(alice, { jobId: 'p', parentIds: [], replaceParents: false });
      server.watch(rerun.jobId);
      await run(rerun.jobId).catch(() => {});
      expect(server.killed()).to.equal(true);
      server.revive();

      const [done] = await raw.getJobs([rerun.jobId]);
      expect(done!.status).to.equal('SUCCEEDED');
      const [p] = await raw.getJobs(['p']);
      expect(invalidationsOf(p!).map((event) => [...event.invalidatedJobIds!].sort())).to.deep.equal([alicesDescendants]);
      expect(await cacheStates(alicesDescendants)).to.deep.equal(alicesDescendants.map((id) => [id, 'FRESH']));

      // The restarted server's relay sweep marks them before it publishes the event.
      await new EventRelay(raw, s.events, QUIET_LOG, NO_METRICS).sweep();
      expect(await cacheStates([...alicesDescendants, 'p', 'bobs'])).to.deep.equal(
        [...alicesDescendants.map((id) => [id, 'STALE']), ['p', 'FRESH'], ['bobs', 'FRESH']].sort(),
      );
      expect((await published()).map((event) => [event.jobId, event.affectedCount])).to.deep.equal([['p', alicesDescendants.length]]);
      expect(await raw.listWithPendingEvents(10)).to.deep.equal([]);
    });

    it('makes the descendants STALE and publishes the invalidation with the write, when nothing stops the server', async () => {
      const rerun = await s.service.rerunJob(alice, { jobId: 'p', parentIds: [], replaceParents: false });
      await run(rerun.jobId);
      expect(await cacheStates([...alicesDescendants, 'bobs'])).to.deep.equal([...alicesDescendants.map((id) => [id, 'STALE']), ['bobs', 'FRESH']].sort());
      expect((await published()).map((event) => [event.jobId, event.affectedCount])).to.deep.equal([['p', alicesDescendants.length]]);
    });

    it('invalidates nothing when the run was cancelled before its write', async () => {
      cancelWhileRunning = true;
      const [p] = await raw.getJobs(['p']);
      const rerun = await s.service.rerunJob(alice, { jobId: 'p', parentIds: [], replaceParents: false });
      await run(rerun.jobId);
      expect((await raw.getJobs([rerun.jobId]))[0]!.status).to.equal('CANCELLED');
      expect(await raw.getJobs(['p'])).to.deep.equal([p]);
      expect(await cacheStates(alicesDescendants)).to.deep.equal(alicesDescendants.map((id) => [id, 'FRESH']));
      expect(await published()).to.deep.equal([]);
    });

    it('reads the earlier result again when another write changed it before the run wrote, and keeps that write', async () => {
      const rerun = await s.service.rerunJob(alice, { jobId: 'p', parentIds: [], replaceParents: false });
      const getJobs = raw.getJobs.bind(raw);
      let raced = false;
      raw.getJobs = async (ids) => {
        const found = await getJobs(ids);
        if (!raced && ids.length === 1 && ids[0] === 'p') {
          raced = true;
          expect(await raw.replaceJob({ ...found[0]!, labels: { raced: 'yes' }, etag: freshEtag() }, found[0]!.etag)).to.equal(true);
        }
        return found;
      };
      await run(rerun.jobId);
      expect(raced).to.equal(true);
      expect((await getJobs([rerun.jobId]))[0]!.status).to.equal('SUCCEEDED');
      expect((await getJobs(['p']))[0]!.labels).to.deep.equal({ raced: 'yes' });
      expect(await cacheStates(alicesDescendants)).to.deep.equal(alicesDescendants.map((id) => [id, 'STALE']));
      expect((await published()).map((event) => event.jobId)).to.deep.equal(['p']);
    });
  });
}
