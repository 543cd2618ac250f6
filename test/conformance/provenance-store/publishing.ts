import { expect } from 'chai';
import { publishedEvent, withEvents, type ProvenanceEvent } from '../../../src/domain/job-events.js';
import type { EventLog } from '../../../src/domain/ports/event-log.js';
import type { RelayingStore } from '../../../src/service/event-stream/publishing-store.js';
import { freshEtag, makeJob } from '../../support/job-records.js';
import type { StoreHarness, StoreSuite } from './harness.js';
import { insertAll } from './helpers.js';
import { until } from '../../support/waits.js';

/**
 * A store that relays its writes (PublishingStore): each write that commits
 * a record hands its outbox to the event log and clears it, and a write
 * refused relays nothing. A part of runProvenanceStoreConformance (index.ts),
 * in place of the outbox part.
 */
export function describePublishing(suite: StoreSuite, publishing: NonNullable<StoreHarness['publishing']>): void {
  const { use: useStore, adopt } = suite;
  const { events } = publishing;
  const t0 = Date.UTC(2025, 5, 6, 7, 8, 9, 10);
  const at = (offsetMs: number) => new Date(t0 + offsetMs);

  describe('relaying the outbox of each write', function () {
    const store = useStore();

    it('appends the outbox of each inserted record to the event log, then clears it, keeping etag and event number', async () => {
      const records = [makeJob(), makeJob()].map((r) => withEvents(r, ['job.provenance.created', 'job.provenance.completed'], at(0)));
      await insertAll(store(), records);
      for (const record of records) {
        expect(await appendedFor(events, record.jobId)).to.deep.equal(record.pendingEvents);
        const { pendingEvents: _relayed, ...cleared } = record;
        expect(await store().getJobs([record.jobId])).to.deep.equal([cleared]);
      }
      expect(await store().listWithPendingEvents(1000)).to.deep.equal([]);
    });

    it('relays the events a replacement adds, and nothing of a refused replacement or a colliding insert', async () => {
      const original = makeJob({ status: 'RUNNING' });
      await insertAll(store(), [original]);
      const done = withEvents({ ...original, status: 'SUCCEEDED', etag: freshEtag() }, ['job.provenance.completed'], at(1));
      expect(await store().replaceJob(done, original.etag)).to.equal(true);
      const refused = withEvents({ ...done, etag: freshEtag() }, ['cache.invalidated'], at(2));
      expect(await store().replaceJob(refused, original.etag)).to.equal(false);
      expect(await store().replaceJobs([{ record: refused, expectedEtag: original.etag }])).to.deep.equal([false]);
      const collision = withEvents({ ...original, etag: freshEtag() }, ['job.provenance.created'], at(3));
      expect(await store().insertJobs([collision])).to.deep.equal([{ inserted: false, conflict: 'JOB_ID' }]);
      expect(await appendedFor(events, original.jobId)).to.deep.equal(done.pendingEvents);

      const again = withEvents({ ...done, etag: freshEtag() }, ['cache.invalidated'], at(4), { invalidatedJobIds: [done.jobId] });
      expect(await store().replaceJobs([{ record: again, expectedEtag: done.etag }])).to.deep.equal([true]);
      // again still carries done's event, as the caller built it from done: the log holds it once, and its invalidation without the ids.
      const [invalidation] = again.pendingEvents!.slice(1);
      expect(invalidation!.invalidatedJobIds).to.deep.equal([done.jobId]);
      expect(await appendedFor(events, original.jobId)).to.deep.equal([...done.pendingEvents!, publishedEvent(invalidation!)]);
      expect(publishedEvent(invalidation!)).to.not.have.property('invalidatedJobIds');
      expect((await store().getJobs([original.jobId]))[0]).to.not.have.property('pendingEvents');
    });

    it('relays a write it does not wait for (a claim), whose events the next write carries, each appended once and in order', async () => {
      const queued = makeJob({ status: 'QUEUED' });
      await insertAll(store(), [queued]);
      const relaying = store() as RelayingStore;
      const running = withEvents({ ...queued, status: 'RUNNING', etag: freshEtag() }, ['compute.job.started'], at(7));
      expect(await relaying.replaceJobsRelayingLater([{ record: running, expectedEtag: freshEtag() }])).to.deep.equal([false]);
      expect(await relaying.replaceJobsRelayingLater([{ record: running, expectedEtag: queued.etag }])).to.deep.equal([true]);
      // The outcome is built from the record the worker holds, with the claim's event still in it: relayed or not, it is appended once.
      const done = withEvents({ ...running, status: 'SUCCEEDED', etag: freshEtag() }, ['job.provenance.completed'], at(8));
      expect(await store().replaceJob(done, running.etag)).to.equal(true);
      expect(await appendedFor(events, queued.jobId)).to.deep.equal(done.pendingEvents);

      const alone = makeJob({ status: 'QUEUED' });
      await insertAll(store(), [alone]);
      const claimed = withEvents({ ...alone, status: 'RUNNING', etag: freshEtag() }, ['compute.job.started'], at(9));
      expect(await relaying.replaceJobsRelayingLater([{ record: claimed, expectedEtag: alone.etag }])).to.deep.equal([true]);
      await until(async () => (await appendedFor(events, alone.jobId)).length === 1, "the claim's event in the log");
      expect(await appendedFor(events, alone.jobId)).to.deep.equal(claimed.pendingEvents);
      await until(async () => (await store().getJobs([alone.jobId]))[0]!.pendingEvents === undefined, "the claim's outbox cleared");
    });

    it('marks the jobs an invalidation event names stale before it relays the event', async () => {
      const parent = makeJob();
      const child = makeJob({ parentIds: [parent.jobId], status: 'SUCCEEDED', cacheState: 'FRESH' });
      await insertAll(store(), [parent, child]);
      const invalidated = withEvents({ ...parent, cacheState: 'STALE', etag: freshEtag() }, ['cache.invalidated'], at(5), {
        invalidatedJobIds: [parent.jobId, child.jobId],
      });
      expect(await store().replaceJob(invalidated, parent.etag)).to.equal(true);
      expect((await store().getJobs([child.jobId]))[0]!.cacheState).to.equal('STALE');
      expect(await appendedFor(events, parent.jobId)).to.deep.equal(invalidated.pendingEvents!.map(publishedEvent));
    });

    it('relays the outboxes of records replaced together, the jobs an invalidation names marked stale first, and nothing of a refused call', async () => {
      const run = makeJob({ status: 'RUNNING' });
      const earlier = makeJob();
      const child = makeJob({ parentIds: [earlier.jobId], status: 'SUCCEEDED', cacheState: 'FRESH' });
      await insertAll(store(), [run, earlier, child]);
      const done = withEvents({ ...run, status: 'SUCCEEDED', etag: freshEtag() }, ['job.provenance.completed'], at(11));
      const invalidation = withEvents({ ...earlier, etag: freshEtag() }, ['cache.invalidated'], at(11), { invalidatedJobIds: [child.jobId] });
      const together = (expectedRunEtag: string) =>
        store().replaceJobsTogether([
          { record: done, expectedEtag: expectedRunEtag },
          { record: invalidation, expectedEtag: earlier.etag },
        ]);

      expect(await together(freshEtag())).to.deep.equal([false, false]);
      expect(await appendedFor(events, earlier.jobId)).to.deep.equal([]);
      expect((await store().getJobs([child.jobId]))[0]!.cacheState).to.equal('FRESH');

      expect(await together(run.etag)).to.deep.equal([true, true]);
      expect((await store().getJobs([child.jobId]))[0]!.cacheState).to.equal('STALE');
      expect(await appendedFor(events, run.jobId)).to.deep.equal(done.pendingEvents);
      expect(await appendedFor(events, earlier.jobId)).to.deep.equal(invalidation.pendingEvents!.map(publishedEvent));
    });
  });

  describe('when the event log is gone', function () {
    it('keeps the writes, and leaves their events in the outboxes for the sweep', async () => {
      const store = await publishing.createWithEventsGone();
      adopt(store);
      const record = withEvents(makeJob(), ['job.provenance.created'], at(6));
      await insertAll(store, [record]);
      expect(await store.getJobs([record.jobId])).to.deep.equal([record]);
      expect(await store.listWithPendingEvents(10)).to.deep.equal([record]);
      // A write not waited for leaves its events in the outbox the same way, and nothing rejects unhandled.
      const running = withEvents({ ...record, status: 'RUNNING', etag: freshEtag() }, ['compute.job.started'], at(10));
      expect(await (store as RelayingStore).replaceJobsRelayingLater([{ record: running, expectedEtag: record.etag }])).to.deep.equal([true]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(await store.listWithPendingEvents(10)).to.deep.equal([running]);
    });
  });
}

/** The events of one job that the log holds, oldest first, without their cursors. */
async function appendedFor(events: EventLog, jobId: string): Promise<ProvenanceEvent[]> {
  const all = await events.read(undefined, 1_000_000);
  return all.filter((event) => event.jobId === jobId).map(({ cursor: _cursor, ...event }) => event);
}
