import { expect } from 'chai';
import { withEvents } from '../../../src/domain/job-events.js';
import type { JobRecord } from '../../../src/domain/job.js';
import { freshEtag, makeJob, nextJobId } from '../../support/job-records.js';
import { insertAll, ids, sortById, uniqueTenant, uniqueGrant, awkwardJson, everyFieldSet, noOptionalField, shuffled } from './helpers.js';
import type { StoreSuite } from './harness.js';

/** The outbox: pending events kept through reads, cleared by etag and seq, listed page after page. A part of runProvenanceStoreConformance (index.ts). */
export function describeOutbox(suite: StoreSuite): void {
  const { open: openStore, use: useStore } = suite;
  describe('pending events (the outbox)', function () {
    const store = useStore();
    const t0 = Date.UTC(2025, 2, 3, 4, 5, 6, 789);
    const at = (offsetMs: number) => new Date(t0 + offsetMs);

    /** The record with three events in its outbox, seq 1 to 3. */
    function withThreeEvents(record: JobRecord): JobRecord {
      return withEvents(record, ['compute.job.submitted', 'job.provenance.created', 'compute.job.started'], at(0));
    }

    function withoutOutbox(record: JobRecord): JobRecord {
      const { pendingEvents: _removed, ...rest } = record;
      return rest;
    }

    it('keeps the outbox and the event number through every read: event times as Dates, optional event fields as written', async () => {
      const tenant = uniqueTenant();
      const parent = withEvents(makeJob({ tenant }), ['job.provenance.created'], at(0));
      // everyFieldSet gives its events an output hash, an error and the rerun and cache sources; cache.invalidated adds the invalidated ids.
      const detailed = withEvents(
        withEvents(
          everyFieldSet({ tenant, parentIds: [parent.jobId] }),
          ['compute.job.submitted', 'compute.job.rerun', 'job.provenance.created', 'compute.job.failed'],
          at(1),
        ),
        ['cache.invalidated'],
        at(2),
        { invalidatedJobIds: [nextJobId('stale'), nextJobId('stale')], affectedCount: 2 },
      );
      const bare = withEvents(noOptionalField({ tenant }), ['job.provenance.created'], at(3));
      const reusable = withEvents(
        makeJob({ tenant, parentIds: [parent.jobId], completedAt: at(4) }),
        ['compute.job.completed', 'job.provenance.completed'],
        at(4),
      );
      const records = [parent, detailed, bare, reusable];
      const optionalEventFields = ['outputHash', 'cachedFromJobId', 'rerunOfJobId', 'error', 'invalidatedJobIds', 'affectedCount'];
      expect(detailed.pendingEvents!.map((event) => event.seq)).to.deep.equal([1, 2, 3, 4, 5]);
      expect(detailed.pendingEvents![4]).to.include.all.keys(...optionalEventFields);
      expect(bare.pendingEvents![0]).to.not.have.any.keys(...optionalEventFields);
      await insertAll(store(), records);

      const [stored] = await store().getJobs([detailed.jobId]);
      for (const event of stored!.pendingEvents!) expect(event.time, `time of event ${event.seq}`).to.be.instanceOf(Date);
      expect(sortById(await store().getJobs(ids(records)))).to.deep.equal(sortById(records));
      expect(sortById(await store().listJobs({ reader: { tenant, grant: uniqueGrant() }, filter: {}, limit: 10 }))).to.deep.equal(
        sortById(records),
      );
      expect(await store().listChildren(parent.jobId, 10)).to.deep.equal(sortById([detailed, reusable]));
      expect(await store().findByRequestIds(tenant, [detailed.requestId!])).to.deep.equal([detailed]);
      expect(
        await store().findReusableResult({ tenant, definitionHash: reusable.definitionHash, inputHash: reusable.inputHash, cacheKeySalt: '', excludeJobId: parent.jobId }),
      ).to.deep.equal(reusable);
      const failedSubmitted = await store().listByStatus({ origin: 'SUBMITTED', statuses: ['FAILED'], limit: 1000 });
      expect(failedSubmitted.filter((r) => r.jobId === detailed.jobId)).to.deep.equal([detailed]);
      const descendants = await store().lineage({ rootId: parent.jobId, direction: 'DESCENDANTS', projection: 'FULL' });
      expect(sortById(descendants).map((row) => row.record)).to.deep.equal(sortById([detailed, reusable]));
      const listed = await store().listWithPendingEvents(1000);
      expect(listed.filter((r) => r.tenant === tenant)).to.deep.equal(sortById(records));
    });

    it('keeps an event number without an outbox, and an empty outbox, and lists neither', async () => {
      const numbered: JobRecord = { ...makeJob(), eventSeq: 7 };
      const emptied: JobRecord = { ...makeJob(), eventSeq: 2, pendingEvents: [] };
      await insertAll(store(), [numbered, emptied]);
      expect(sortById(await store().getJobs(ids([numbered, emptied])))).to.deep.equal(sortById([numbered, emptied]));
      expect(ids(await store().listWithPendingEvents(1000))).to.not.include.any.members(ids([numbered, emptied]));
    });

    it('clears the events up to upToSeq, keeps the later ones in order, and changes nothing else, the etag included', async () => {
      const record = withThreeEvents(everyFieldSet({ payload: awkwardJson(), metadata: awkwardJson() }));
      await insertAll(store(), [record]);

      await store().clearPendingEvents([{ jobId: record.jobId, etag: record.etag, upToSeq: 1 }]);
      expect(await store().getJobs([record.jobId])).to.deep.equal([{ ...record, pendingEvents: record.pendingEvents!.slice(1) }]);
      expect(ids(await store().listWithPendingEvents(1000))).to.include(record.jobId);

      // An emptied outbox is no longer there at all; the event number stays.
      await store().clearPendingEvents([{ jobId: record.jobId, etag: record.etag, upToSeq: 3 }]);
      expect(await store().getJobs([record.jobId])).to.deep.equal([withoutOutbox(record)]);
      expect(ids(await store().listWithPendingEvents(1000))).to.not.include(record.jobId);

      // A writer holding the etag it read before the clearances still wins its compare-and-set.
      const next = makeJob({ jobId: record.jobId, createdAt: record.createdAt, attempt: 4 });
      expect(await store().replaceJob(next, record.etag)).to.equal(true);
      expect(await store().getJobs([record.jobId])).to.deep.equal([next]);
    });

    it('leaves a record whose etag changed as it is, and clears it under its new etag', async () => {
      const refused = withThreeEvents(makeJob({ status: 'RUNNING' }));
      const replaced = withThreeEvents(makeJob({ status: 'QUEUED' }));
      const staled = withThreeEvents(makeJob());
      await insertAll(store(), [refused, replaced, staled]);
      const running = makeJob({ jobId: replaced.jobId, createdAt: replaced.createdAt, status: 'RUNNING' });
      const next = withEvents({ ...running, eventSeq: replaced.eventSeq!, pendingEvents: replaced.pendingEvents! }, ['compute.job.started'], at(5));
      expect(await store().replaceJob(next, replaced.etag)).to.equal(true);
      expect(await store().markStale([staled.jobId], at(6))).to.equal(1);
      const [stale] = await store().getJobs([staled.jobId]);
      expect(stale).to.deep.equal({ ...staled, cacheState: 'STALE', etag: stale!.etag, updatedAt: at(6) });

      await store().clearPendingEvents([
        { jobId: replaced.jobId, etag: replaced.etag, upToSeq: 4 },
        { jobId: staled.jobId, etag: staled.etag, upToSeq: 3 },
        { jobId: refused.jobId, etag: freshEtag(), upToSeq: 3 },
      ]);
      expect(sortById(await store().getJobs(ids([refused, replaced, staled])))).to.deep.equal(sortById([refused, next, stale!]));

      await store().clearPendingEvents([
        { jobId: replaced.jobId, etag: next.etag, upToSeq: 2 },
        { jobId: staled.jobId, etag: stale!.etag, upToSeq: 3 },
      ]);
      expect(sortById(await store().getJobs(ids([replaced, staled])))).to.deep.equal(
        sortById([{ ...next, pendingEvents: next.pendingEvents!.slice(2) }, withoutOutbox(stale!)]),
      );
    });

    it('does nothing for missing jobs, events already cleared and records without an outbox', async () => {
      const record = withThreeEvents(makeJob());
      const noOutbox: JobRecord = { ...makeJob(), eventSeq: 3 };
      await insertAll(store(), [record, noOutbox]);
      await store().clearPendingEvents([{ jobId: record.jobId, etag: record.etag, upToSeq: 2 }]);
      await store().clearPendingEvents([
        { jobId: record.jobId, etag: record.etag, upToSeq: 2 },
        { jobId: record.jobId, etag: record.etag, upToSeq: 0 },
        { jobId: noOutbox.jobId, etag: noOutbox.etag, upToSeq: 3 },
        { jobId: nextJobId('missing'), etag: freshEtag(), upToSeq: 3 },
      ]);
      expect(sortById(await store().getJobs(ids([record, noOutbox])))).to.deep.equal(
        sortById([{ ...record, pendingEvents: record.pendingEvents!.slice(2) }, noOutbox]),
      );
      await store().clearPendingEvents([]);
    });

    it('clears many records in one call, each on its own', async () => {
      const records = Array.from({ length: 240 }, () => withThreeEvents(makeJob({ tenant: uniqueTenant() })));
      await insertAll(store(), records);
      // In turn: the whole outbox, part of it, under a changed etag, nothing.
      const cases = [
        { upToSeq: 3, sameEtag: true, kept: 0 },
        { upToSeq: 2, sameEtag: true, kept: 1 },
        { upToSeq: 3, sameEtag: false, kept: 3 },
        { upToSeq: 0, sameEtag: true, kept: 3 },
      ];
      const clearances = records.map((record, i) => ({
        jobId: record.jobId,
        etag: cases[i % 4]!.sameEtag ? record.etag : freshEtag(),
        upToSeq: cases[i % 4]!.upToSeq,
      }));
      // records[1] is cleared twice in the call, in part and whole, in whichever order the shuffle gives.
      const twice = records[1]!;
      const more = [{ jobId: twice.jobId, etag: twice.etag, upToSeq: 3 }, { jobId: nextJobId('missing'), etag: freshEtag(), upToSeq: 3 }];
      await store().clearPendingEvents(shuffled([...clearances, ...more], 17));

      const expected = records.map((record, i) => {
        const kept = record === twice ? 0 : cases[i % 4]!.kept;
        return kept === 0 ? withoutOutbox(record) : { ...record, pendingEvents: record.pendingEvents!.slice(3 - kept) };
      });
      expect(sortById(await store().getJobs(ids(records)))).to.deep.equal(sortById(expected));
    });

    it('applies every clearance of a call, several of one record included, in any order', async () => {
      const first = withThreeEvents(makeJob());
      const second = withThreeEvents(makeJob());
      await insertAll(store(), [first, second]);
      await store().clearPendingEvents([
        { jobId: first.jobId, etag: first.etag, upToSeq: 2 },
        { jobId: first.jobId, etag: first.etag, upToSeq: 1 },
        { jobId: second.jobId, etag: second.etag, upToSeq: 1 },
        { jobId: second.jobId, etag: second.etag, upToSeq: 2 },
      ]);
      expect(sortById(await store().getJobs(ids([first, second])))).to.deep.equal(
        sortById([first, second].map((record) => ({ ...record, pendingEvents: record.pendingEvents!.slice(2) }))),
      );
    });

    it('lists the records with pending events, of every tenant, by job id, whole, page after page', async () => {
      const own = await openStore();
      const tag = nextJobId('outbox');
      const job = (suffix: string) => makeJob({ jobId: `${tag}-${suffix}`, tenant: uniqueTenant() });
      // '-B' sorts before '-a' by code unit.
      const pending = [withThreeEvents(job('a')), withThreeEvents(job('B')), withThreeEvents(job('m')), withThreeEvents(job('z'))];
      const quiet: JobRecord[] = [job('b'), { ...job('c'), eventSeq: 3 }, { ...job('d'), eventSeq: 1, pendingEvents: [] }];
      await insertAll(own, shuffled([...pending, ...quiet], 23));
      const all = sortById(pending);
      expect(ids(all)).to.deep.equal([`${tag}-B`, `${tag}-a`, `${tag}-m`, `${tag}-z`]);
      expect(await own.listWithPendingEvents(10)).to.deep.equal(all);
      for (const limit of [1, 2, 3]) {
        const seen: string[] = [];
        let page = await own.listWithPendingEvents(limit);
        for (let pages = 0; page.length > 0; pages++) {
          expect(page.length).to.be.at.most(limit);
          expect(pages).to.be.below(10);
          seen.push(...ids(page));
          page = await own.listWithPendingEvents(limit, page[page.length - 1]!.jobId);
        }
        expect(seen, `limit ${limit}`).to.deep.equal(ids(all));
      }
      expect(ids(await own.listWithPendingEvents(10, `${tag}-b`))).to.deep.equal([`${tag}-m`, `${tag}-z`]);
      expect(await own.listWithPendingEvents(10, `${tag}-z`)).to.deep.equal([]);
    });

    it('stops listing a record once its outbox is cleared, and lists the outboxes that writes add or keep', async () => {
      const own = await openStore();
      const cleared = withThreeEvents(makeJob());
      const partly = withThreeEvents(makeJob());
      const gainsEvents = makeJob({ status: 'QUEUED' });
      const losesEvents = withThreeEvents(makeJob({ status: 'RUNNING' }));
      const staled = withThreeEvents(makeJob());
      await insertAll(own, [cleared, partly, gainsEvents, losesEvents, staled]);

      await own.clearPendingEvents([
        { jobId: cleared.jobId, etag: cleared.etag, upToSeq: 3 },
        { jobId: partly.jobId, etag: partly.etag, upToSeq: 2 },
      ]);
      const gained = withEvents(makeJob({ jobId: gainsEvents.jobId, createdAt: gainsEvents.createdAt, status: 'RUNNING' }), ['compute.job.started'], at(7));
      // A write whose events went to the log some other way stores the record without an outbox.
      const lost: JobRecord = { ...makeJob({ jobId: losesEvents.jobId, createdAt: losesEvents.createdAt }), eventSeq: 5 };
      expect(
        await own.replaceJobs([
          { record: gained, expectedEtag: gainsEvents.etag },
          { record: lost, expectedEtag: losesEvents.etag },
        ]),
      ).to.deep.equal([true, true]);
      expect(await own.markStale([staled.jobId], at(8))).to.equal(1);
      const [stale] = await own.getJobs([staled.jobId]);
      expect(stale!.pendingEvents).to.deep.equal(staled.pendingEvents);

      expect(await own.listWithPendingEvents(10)).to.deep.equal(
        sortById([{ ...partly, pendingEvents: partly.pendingEvents!.slice(2) }, gained, stale!]),
      );
      expect(sortById(await own.getJobs(ids([cleared, lost])))).to.deep.equal(sortById([withoutOutbox(cleared), lost]));
    });

    it('keeps the outboxes of a batch in which a record collides', async () => {
      const own = await openStore();
      const existing = withThreeEvents(makeJob());
      await insertAll(own, [existing]);
      const first = withThreeEvents(makeJob());
      const collision = withThreeEvents(makeJob({ jobId: existing.jobId, status: 'FAILED' }));
      const quiet = makeJob();
      const last = withThreeEvents(makeJob());
      expect(await own.insertJobs([first, collision, quiet, last])).to.deep.equal([
        { inserted: true },
        { inserted: false, conflict: 'JOB_ID' },
        { inserted: true },
        { inserted: true },
      ]);
      expect(await own.listWithPendingEvents(10)).to.deep.equal(sortById([existing, first, last]));
      expect(await own.getJobs([quiet.jobId])).to.deep.equal([quiet]);
    });
  });
}
