import { expect } from 'chai';
import type { LoggedEvent } from '../../src/domain/job-events.js';
import type { JobRecord } from '../../src/domain/job.js';
import { JobAccessCache } from '../../src/service/event-stream/job-access-cache.js';
import { makeJob } from '../support/job-records.js';

/** A store holding some jobs, counting its reads, whose reads wait until release() when held. */
class CountingStore {
  reads: string[][] = [];
  failing = false;
  private readonly jobs = new Map<string, JobRecord>();
  private held: Array<() => void> | undefined;

  add(job: JobRecord): void {
    this.jobs.set(job.jobId, job);
  }

  hold(): void {
    this.held = [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    for (const resume of waiting) resume();
  }

  async getJobs(ids: readonly string[]): Promise<JobRecord[]> {
    this.reads.push([...ids]);
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    if (this.failing) throw new Error('store down');
    return ids.flatMap((id) => this.jobs.get(id) ?? []);
  }
}

describe('the access cache of the event stream', () => {
  let store: CountingStore;
  let now: number;
  const cache = (maxEntries = 100, ttlMs = 1000) => new JobAccessCache(store, { maxEntries, ttlMs }, () => now);

  beforeEach(() => {
    store = new CountingStore();
    now = 1_000_000;
    store.add(makeJob({ jobId: 'a', tenant: 'acme' }));
    store.add(makeJob({ jobId: 'b', tenant: 'globex', readers: ['acme/carl'] }));
  });

  it('tells the tenant and grants of each job, and undefined for an id no job has', async () => {
    const known = await cache().known(['a', 'b', 'ghost', 'a']);
    expect([...known.entries()]).to.deep.equal([
      ['a', { tenant: 'acme', readers: [] }],
      ['b', { tenant: 'globex', readers: ['acme/carl'] }],
      ['ghost', undefined],
    ]);
    expect(store.reads).to.deep.equal([['a', 'b', 'ghost']]);
  });

  it('reads once for many subscribers asking at the same time', async () => {
    const shared = cache();
    store.hold();
    const asked = [shared.known(['a', 'b']), shared.known(['b', 'a']), shared.known(['a'])];
    store.release();
    const answers = await Promise.all(asked);
    expect(store.reads).to.deep.equal([['a', 'b']]);
    for (const known of answers) expect(known.get('a')).to.deep.equal({ tenant: 'acme', readers: [] });
  });

  it('keeps an access for ttlMs, and reads again after: a grant taken away shows within that time', async () => {
    const shared = cache(100, 1000);
    await shared.known(['b']);
    now += 999;
    await shared.known(['b']);
    expect(store.reads).to.have.length(1);
    store.add(makeJob({ jobId: 'b', tenant: 'globex', readers: [] }));
    now += 1;
    expect((await shared.known(['b'])).get('b')).to.deep.equal({ tenant: 'globex', readers: [] });
    expect(store.reads).to.have.length(2);
  });

  it('never keeps an id no job has: a job may be created under it any time', async () => {
    const shared = cache();
    expect((await shared.known(['later'])).get('later')).to.equal(undefined);
    store.add(makeJob({ jobId: 'later', tenant: 'globex' }));
    expect((await shared.known(['later'])).get('later')).to.deep.include({ tenant: 'globex' });
  });

  it('keeps at most maxEntries, dropping the oldest; 0 keeps none', async () => {
    const small = cache(1);
    await small.known(['a']);
    await small.known(['b']);
    await small.known(['b', 'a']);
    expect(store.reads).to.deep.equal([['a'], ['b'], ['a']]);
    store.reads = [];
    const none = cache(0);
    await none.known(['a']);
    await none.known(['a']);
    expect(store.reads).to.deep.equal([['a'], ['a']]);
  });

  it('reads the jobs a batch of events names once for every subscription it goes to, and again once stale', async () => {
    const shared = cache(100, 1000);
    const event = (jobId: string, parentIds: string[]): LoggedEvent => ({
      ...{ cursor: '1-0', seq: 1, type: 'job.provenance.created', jobType: 't', status: 'SUCCEEDED', definitionHash: 'd', inputHash: 'i' },
      ...{ jobId, tenant: 'acme', labels: {}, readers: [], parentIds, time: new Date() },
    });
    const batch = [event('c1', ['a']), event('c2', ['b', 'ghost']), event('c3', [])];
    const [first, second] = await Promise.all([shared.ofEvents(batch), shared.ofEvents(batch.slice(1))]);
    expect(store.reads).to.deep.equal([['a', 'b', 'ghost']]);
    expect(first[1]!.get('b')).to.deep.equal({ tenant: 'globex', readers: ['acme/carl'] });
    expect(second[0]!.has('ghost')).to.equal(true);
    // Answered and fresh: the same answer, without a read.
    const again = await shared.ofEvents(batch);
    expect(store.reads).to.have.length(1);
    expect(again[1]).to.equal(first[1]);
    now += 1001;
    await shared.ofEvents(batch);
    expect(store.reads).to.have.length(2);
  });

  it('fails every subscription of a batch whose read fails, and reads its events again on the next ask', async () => {
    const shared = cache();
    const batch: LoggedEvent[] = [
      {
        ...{ cursor: '1-0', seq: 1, type: 'job.provenance.created', jobType: 't', status: 'SUCCEEDED', definitionHash: 'd', inputHash: 'i' },
        ...{ jobId: 'c1', tenant: 'acme', labels: {}, readers: [], parentIds: ['a'], time: new Date() },
      },
    ];
    store.failing = true;
    const outcomes = await Promise.allSettled([shared.ofEvents(batch), shared.ofEvents(batch)]);
    expect(outcomes.map((outcome) => outcome.status)).to.deep.equal(['rejected', 'rejected']);
    store.failing = false;
    expect((await shared.ofEvents(batch))[0]!.get('a')).to.deep.include({ tenant: 'acme' });
    expect(store.reads).to.deep.equal([['a'], ['a']]);
  });

  it('fails every caller waiting on a read that fails, and reads again on the next ask', async () => {
    const shared = cache();
    store.failing = true;
    store.hold();
    const asked = [shared.known(['a']), shared.known(['a'])];
    store.release();
    const outcomes = await Promise.allSettled(asked);
    expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as Error).message : 'answered'))).to.deep.equal(['store down', 'store down']);
    store.failing = false;
    expect((await shared.known(['a'])).get('a')).to.deep.include({ tenant: 'acme' });
    expect(store.reads).to.deep.equal([['a'], ['a']]);
  });
});
