import { expect } from 'chai';
import type { JobRecord } from '../../src/domain/job.js';
import type { InsertOptions, InsertOutcome, Replacement } from '../../src/domain/ports/provenance-store.js';
import type { RelayingStore } from '../../src/service/event-stream/publishing-store.js';
import { groupCommit } from '../../src/service/group-commit.js';
import { makeJob } from '../support/job-records.js';

/** The three calls group commit makes, recorded; insertJobs refuses ids starting with "taken". */
class RecordingStore {
  readonly insertCalls: string[][] = [];
  /** The generated ids each insertJobs call was told of. */
  readonly generatedIds: string[][] = [];
  readonly replaceCalls: string[][] = [];
  readonly claimCalls: string[][] = [];
  failNext: Error | undefined;

  async insertJobs(records: readonly JobRecord[], options?: InsertOptions): Promise<InsertOutcome[]> {
    this.insertCalls.push(records.map((r) => r.jobId));
    this.generatedIds.push([...(options?.generatedIds ?? [])]);
    this.throwIfFailing();
    return records.map((r) => (r.jobId.startsWith('taken') ? { inserted: false, conflict: 'JOB_ID' } : { inserted: true }));
  }

  async replaceJobs(replacements: readonly Replacement[]): Promise<boolean[]> {
    this.replaceCalls.push(replacements.map((r) => r.record.jobId));
    this.throwIfFailing();
    return replacements.map((r) => r.expectedEtag === 'current');
  }

  async replaceJobsRelayingLater(replacements: readonly Replacement[]): Promise<boolean[]> {
    this.claimCalls.push(replacements.map((r) => r.record.jobId));
    this.throwIfFailing();
    return replacements.map((r) => r.expectedEtag === 'current');
  }

  private throwIfFailing(): void {
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
  }
}

function setUp() {
  const store = new RecordingStore();
  return { store, writes: groupCommit(store as unknown as RelayingStore) };
}

describe('group commit', () => {
  it('writes the inserts of one turn of the event loop in one store call, in order, each caller getting its own outcome', async () => {
    const { store, writes } = setUp();
    const [a, taken, many] = await Promise.all([
      writes.insert(makeJob({ jobId: 'a' }), true),
      writes.insert(makeJob({ jobId: 'taken-1' }), false),
      writes.insertAll([makeJob({ jobId: 'b' }), makeJob({ jobId: 'taken-2' })], new Set(['b'])),
    ]);
    expect(store.insertCalls).to.deep.equal([['a', 'taken-1', 'b', 'taken-2']]);
    // Which ids the server generated travels with the records, for the store's cycle check.
    expect(store.generatedIds).to.deep.equal([['a', 'b']]);
    expect(a).to.deep.equal({ inserted: true });
    expect(taken).to.deep.equal({ inserted: false, conflict: 'JOB_ID' });
    expect(many).to.deep.equal([{ inserted: true }, { inserted: false, conflict: 'JOB_ID' }]);
  });

  it('writes what is asked for in a later turn in a later call', async () => {
    const { store, writes } = setUp();
    await writes.insert(makeJob({ jobId: 'first' }), false);
    await writes.insert(makeJob({ jobId: 'second' }), false);
    expect(store.insertCalls).to.deep.equal([['first'], ['second']]);
  });

  it('puts a second write of a job in the next call, after the first', async () => {
    const { store, writes } = setUp();
    const job = makeJob({ jobId: 'twice' });
    const outcomes = await Promise.all([writes.replace(job, 'current'), writes.replace(makeJob({ jobId: 'other' }), 'stale'), writes.replace(job, 'current')]);
    expect(store.replaceCalls).to.deep.equal([['twice', 'other'], ['twice']]);
    expect(outcomes).to.deep.equal([true, false, true]);
  });

  it("writes the claims of one turn in one call that does not wait for the relay, apart from the other replacements", async () => {
    const { store, writes } = setUp();
    const outcomes = await Promise.all([
      writes.claim(makeJob({ jobId: 'a' }), 'current'),
      writes.replace(makeJob({ jobId: 'b' }), 'current'),
      writes.claim(makeJob({ jobId: 'c' }), 'stale'),
    ]);
    expect(store.claimCalls).to.deep.equal([['a', 'c']]);
    expect(store.replaceCalls).to.deep.equal([['b']]);
    expect(outcomes).to.deep.equal([true, true, false]);
  });

  it('keeps at most 1000 records in one call', async () => {
    const { store, writes } = setUp();
    await writes.insertAll(Array.from({ length: 1001 }, (_, i) => makeJob({ jobId: `j${i}` })), new Set());
    expect(store.insertCalls.map((ids) => ids.length)).to.deep.equal([1000, 1]);
  });

  it('fails every write of a call that fails, and only those', async () => {
    const { store, writes } = setUp();
    store.failNext = new Error('disk full');
    const outcomes = await Promise.allSettled([writes.insert(makeJob({ jobId: 'x' }), false), writes.insert(makeJob({ jobId: 'y' }), false)]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'rejected']);
    expect((outcomes[0] as PromiseRejectedResult).reason).to.have.property('message', 'disk full');
    expect(await writes.insert(makeJob({ jobId: 'z' }), false)).to.deep.equal({ inserted: true });
  });
});
