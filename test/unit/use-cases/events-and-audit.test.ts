import { expect } from 'chai';
import { ProvenanceError } from '../../../src/domain/errors.js';
import type { EventView } from '../../../src/domain/job-view.js';
import type { Subscription } from '../../../src/service/event-stream/event-hub.js';
import { rejection, until } from '../../support/waits.js';
import { recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';

const alice = principal('lab', 'alice');
const admin = principal('lab', 'ada', ['admin']);
const eve = principal('other-lab', 'eve', ['admin']);

const GET_JOB = '/provenance.v1.ProvenanceService/GetJob';
const BATCH_RECORD_JOBS = '/provenance.v1.ProvenanceService/BatchRecordJobs';

/** WatchEvents, and the audit trail (Audit, ListAuditEvents), over the memory adapters. */
describe('use cases: events and the audit trail', () => {
  let s: MemoryService;
  beforeEach(() => {
    s = memoryService();
  });
  afterEach(() => s.close());

  /** Takes a subscription's events as they come. */
  function collect(subscription: Subscription): EventView[] {
    const seen: EventView[] = [];
    void (async () => {
      for await (const batch of subscription.batches()) seen.push(...batch);
    })().catch(() => undefined);
    return seen;
  }

  it("shows a watcher the events of its tenant's jobs from where it asked, and none of another tenant's", async () => {
    s.hub.start();
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'before' }));
    const watch = { jobIds: [], eventTypes: ['job.provenance.created'], labels: {}, startPosition: 'OLDEST' as const };
    const mine = await s.service.watchEvents(alice, watch);
    const theirs = await s.service.watchEvents(eve, watch);
    try {
      const aliceSees = collect(mine);
      const eveSees = collect(theirs);
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'after' }));
      await s.service.recordJob(eve, recordJobCommand({ jobId: 'eves' }));
      await until(() => aliceSees.length === 2 && eveSees.length === 1, 'the events');
      expect(aliceSees.map((e) => e.jobId)).to.deep.equal(['before', 'after']);
      expect(eveSees.map((e) => e.jobId)).to.deep.equal(['eves']);
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('follows a lineage of at most PROVENANCE_MAX_LINEAGE_NODES jobs: a larger one is refused, and one growing past it ends its subscription', async () => {
    s.close();
    s = memoryService({ limits: { maxLineageNodes: 4 } });
    s.hub.start();
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'small' }));
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'small-1', parentIds: ['small'] }));
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'small-2', parentIds: ['small-1'] }));
    const watch = { jobIds: [], eventTypes: ['job.provenance.created'], labels: {}, startPosition: 'NOW' as const, lineageOf: 'small' };
    const followed = await s.service.watchEvents(alice, watch);
    const seen: string[] = [];
    const ended = (async () => {
      try {
        for await (const batch of followed.batches()) seen.push(...batch.map((e) => e.jobId));
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    // The root and two descendants: one more is the fourth job, the limit; the fifth passes it.
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'small-3', parentIds: ['small-2'] }));
    await until(() => seen.length === 1, 'the fourth job followed');
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'small-4', parentIds: ['small-3'] }));
    const error = await ended;
    expect(seen).to.deep.equal(['small-3']);
    expect(error).to.be.instanceOf(ProvenanceError).and.include({ code: 'RESOURCE_EXHAUSTED', reason: 'WATCHED_LINEAGE_TOO_LARGE' });

    const refused = await rejection(s.service.watchEvents(alice, watch));
    expect(refused).to.be.instanceOf(ProvenanceError).and.include({ code: 'RESOURCE_EXHAUSTED', reason: 'WATCHED_LINEAGE_TOO_LARGE' });
    // The refused subscription gave its slot back, and a smaller lineage is followed as before.
    const smaller = await s.service.watchEvents(alice, { ...watch, lineageOf: 'small-2' });
    smaller.close();
  });

  it("writes the caller's entries to its tenant's trail, which only that tenant's admin lists, newest first", async () => {
    await s.service.audit(alice, GET_JOB, ['a'], 'OK');
    s.clock.advance(1000);
    await s.service.audit(alice, GET_JOB, ['b'], 'NOT_FOUND');
    const trail = await s.service.listAuditEvents(admin, { pageSize: 10 });
    expect(trail.entries.map((e) => [e.subject, e.jobIds, e.outcome])).to.deep.equal([
      ['alice', ['b'], 'NOT_FOUND'],
      ['alice', ['a'], 'OK'],
    ]);
    expect((await s.service.listAuditEvents(eve, { pageSize: 10 })).entries).to.deep.equal([]);
    const refused = await rejection(s.service.listAuditEvents(alice, { pageSize: 10 }));
    expect((refused as ProvenanceError).code).to.equal('PERMISSION_DENIED');
  });

  it('ends a page of the trail early, with a token, at the entry that would pass its bytes, and always moves on', async () => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      await s.service.audit(alice, GET_JOB, [id], 'OK');
      s.clock.advance(1000);
    }
    // Each entry counts 10 bytes here: a budget of 25 holds two of them.
    const pageBytes = { bytes: 25, sizeOf: () => 10 };
    const pages: string[][] = [];
    let pageToken: string | undefined;
    do {
      const page = await s.service.listAuditEvents(admin, { pageSize: 10, ...(pageToken ? { pageToken } : {}) }, pageBytes);
      pages.push(page.entries.flatMap((e) => e.jobIds));
      pageToken = page.nextPageToken || undefined;
    } while (pageToken);
    expect(pages).to.deep.equal([['e', 'd'], ['c', 'b'], ['a']]);
    // An entry larger than the budget is a page of its own.
    expect((await s.service.listAuditEvents(admin, { pageSize: 10 }, { bytes: 5, sizeOf: () => 10 })).entries).to.have.length(1);
  });

  it("copies an entry into the trail of the tenant whose job the caller read, without the caller's subject", async () => {
    await s.service.audit(eve, GET_JOB, ['shared-job'], 'OK', new Map([['shared-job', 'lab']]));
    const copied = (await s.service.listAuditEvents(admin, { pageSize: 10 })).entries;
    expect(copied.map((e) => [e.subject, e.callerTenant, e.jobIds])).to.deep.equal([['', 'other-lab', ['shared-job']]]);
  });

  it("copies every job of another tenant a call read, past the cap of the caller's entry, in entries of at most 1,000 ids", async () => {
    const own = Array.from({ length: 1000 }, (_, i) => `own-${i}`);
    const shared = Array.from({ length: 1500 }, (_, i) => `shared-${i}`);
    const tenants = new Map([...own.map((id) => [id, 'other-lab'] as const), ...shared.map((id) => [id, 'lab'] as const)]);
    await s.service.audit(eve, BATCH_RECORD_JOBS, [...own, ...shared], 'OK', tenants);

    const [callers] = (await s.service.listAuditEvents(eve, { pageSize: 10 })).entries;
    expect(callers!.jobIds).to.deep.equal(own);
    const copies = (await s.service.listAuditEvents(admin, { pageSize: 10 })).entries;
    expect(copies.every((e) => e.subject === '' && e.callerTenant === 'other-lab')).to.equal(true);
    expect(copies.map((e) => e.jobIds.length).sort()).to.deep.equal([1000, 500]);
    expect(copies.flatMap((e) => e.jobIds).sort()).to.deep.equal([...shared].sort());
  });

  it('fails a call UNAVAILABLE when its entry cannot be written', async () => {
    await s.audit.close();
    const error = await rejection(s.service.audit(alice, GET_JOB, [], 'OK'));
    expect((error as ProvenanceError).code).to.equal('UNAVAILABLE');
  });
});
