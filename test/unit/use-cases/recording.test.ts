import { expect } from 'chai';
import { ProvenanceError } from '../../../src/domain/errors.js';
import { readerGrant } from '../../../src/domain/access.js';
import { rejection } from '../../support/waits.js';
import { recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';

const alice = principal('lab', 'alice');
const bob = principal('lab', 'bob');
const eve = principal('other-lab', 'eve');

function code(error: unknown): string {
  expect(error).to.be.instanceOf(ProvenanceError);
  return (error as ProvenanceError).code;
}

/** RecordJob, BatchRecordJobs, GetJob and ListJobs over the memory adapters. */
describe('use cases: recording and reading jobs', () => {
  let s: MemoryService;
  beforeEach(() => {
    s = memoryService();
  });
  afterEach(() => s.close());

  it('records a job owned by its caller in its tenant, stamped by the clock, and gives it back to readers of the tenant only', async () => {
    const recorded = await s.service.recordJob(alice, recordJobCommand({ jobId: 'prep' }));
    expect(recorded).to.include({ jobId: 'prep', tenant: 'lab', owner: 'alice', status: 'SUCCEEDED' });
    expect(recorded.createdAt).to.deep.equal(s.clock.now());
    expect((await s.service.getJob(bob, 'prep')).jobId).to.equal('prep');
    expect(code(await rejection(s.service.getJob(eve, 'prep')))).to.equal('NOT_FOUND');
    expect(code(await rejection(s.service.getJob(eve, 'missing')))).to.equal('NOT_FOUND');
  });

  it('lets a reader of another tenant read a job whose readers name its grant', async () => {
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'shared', readers: [readerGrant(eve)!] }));
    expect((await s.service.getJob(eve, 'shared')).jobId).to.equal('shared');
    expect((await s.service.listJobs(eve, { pageSize: 10 })).jobs.map((j) => j.jobId)).to.deep.equal(['shared']);
  });

  it('refuses a recording without the submitter role', async () => {
    const reader = principal('lab', 'rita', ['reader']);
    expect(code(await rejection(s.service.recordJob(reader, recordJobCommand())))).to.equal('PERMISSION_DENIED');
  });

  it('refuses parents that do not exist, and parents of another tenant it may not read, alike', async () => {
    await s.service.recordJob(eve, recordJobCommand({ jobId: 'eves' }));
    for (const parentIds of [['nowhere'], ['eves']]) {
      const error = await rejection(s.service.recordJob(alice, recordJobCommand({ parentIds })));
      expect(code(error), parentIds[0]).to.equal('FAILED_PRECONDITION');
    }
  });

  it('answers a repeated request id with the record it created, and refuses a taken job id', async () => {
    const first = await s.service.recordJob(alice, recordJobCommand({ jobId: 'once', requestId: 'req-1' }));
    s.clock.advance(1000);
    const replay = await s.service.recordJob(alice, recordJobCommand({ jobId: 'once', requestId: 'req-1' }));
    expect([replay.jobId, replay.etag, replay.createdAt]).to.deep.equal([first.jobId, first.etag, first.createdAt]);
    expect(code(await rejection(s.service.recordJob(alice, recordJobCommand({ jobId: 'once', type: 'other' }))))).to.equal('ALREADY_EXISTS');
  });

  it('refuses, in a batch, the record that would close a cycle, and writes the others', async () => {
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'a', parentIds: ['b'], allowMissingParents: true }));
    const outcomes = await s.service.batchRecordJobs(alice, [
      recordJobCommand({ jobId: 'b', parentIds: ['a'] }),
      recordJobCommand({ jobId: 'c', parentIds: ['a'] }),
    ]);
    expect(outcomes[0]!.ok).to.equal(false);
    expect(code((outcomes[0] as { error: unknown }).error)).to.equal('FAILED_PRECONDITION');
    expect(outcomes[1]!.ok).to.equal(true);
    expect(code(await rejection(s.service.getJob(alice, 'b')))).to.equal('NOT_FOUND');
  });

  it('finds a cycle that runs through stored jobs and records of the batch, and one through the batch alone, named children first', async () => {
    // Stored s names n before n exists; the batch makes m a child of s, then n a child of m: n → m → s → n.
    await s.service.recordJob(alice, recordJobCommand({ jobId: 's', parentIds: ['n'], allowMissingParents: true }));
    const chain = Array.from({ length: 50 }, (_, i) => recordJobCommand({ jobId: `k${i}`, parentIds: [`k${(i + 1) % 50}`], allowMissingParents: true }));
    const outcomes = await s.service.batchRecordJobs(alice, [
      recordJobCommand({ jobId: 'm', parentIds: ['s'] }),
      recordJobCommand({ jobId: 'n', parentIds: ['m'] }),
      // k0 → k1 → … → k49 → k0, each naming the next before it is decided: only the last closes the cycle.
      ...chain,
    ]);
    expect(outcomes.map((outcome) => (outcome.ok ? 'ok' : code(outcome.error)))).to.deep.equal(['ok', 'FAILED_PRECONDITION', ...chain.map((_, i) => (i === 49 ? 'FAILED_PRECONDITION' : 'ok'))]);
  });

  it('lists the tenant newest first, page after page', async () => {
    for (const jobId of ['j1', 'j2', 'j3']) {
      await s.service.recordJob(alice, recordJobCommand({ jobId }));
      s.clock.advance(1000);
    }
    await s.service.recordJob(eve, recordJobCommand({ jobId: 'elsewhere' }));
    const first = await s.service.listJobs(bob, { pageSize: 2 });
    expect(first.jobs.map((j) => j.jobId)).to.deep.equal(['j3', 'j2']);
    const second = await s.service.listJobs(bob, { pageSize: 2, pageToken: first.nextPageToken });
    expect(second.jobs.map((j) => j.jobId)).to.deep.equal(['j1']);
    expect(second.nextPageToken).to.equal('');
    const filtered = await s.service.listJobs(bob, { pageSize: 10, filter: 'status = SUCCEEDED' });
    expect(filtered.jobs).to.have.length(3);
  });

  it('relays the events of a recording to the event log, and leaves no outbox behind', async () => {
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'evented' }));
    const logged = await s.events.read(undefined, 100);
    expect(logged.map((e) => [e.jobId, e.type])).to.deep.include(['evented', 'job.provenance.created']);
    expect(await s.store.listWithPendingEvents(10)).to.deep.equal([]);
  });
});
