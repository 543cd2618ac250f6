import { expect } from 'chai';
import { DependentsSnapshots, type DependentsSnapshot } from '../../src/service/dependents-snapshots.js';
import { toUtf8Strings } from '../../src/domain/utf8-strings.js';

describe('the snapshots of ListDependents', () => {
  let now: number;
  const snapshots = (maxSnapshots: number, maxJobIds: number, idleTtlMs = 1000) => new DependentsSnapshots({ maxSnapshots, maxJobIds, idleTtlMs }, () => now);
  const snapshot = (size: number): DependentsSnapshot => ({
    rootId: 'root',
    jobIds: toUtf8Strings(Array.from({ length: size }, (_, i) => `j${i}`)),
    depths: new Int32Array(size).fill(1),
    hidden: new Uint8Array(size),
    truncated: false,
  });
  beforeEach(() => {
    now = 0;
  });

  it('gives back what it keeps, under distinct ids', () => {
    const cache = snapshots(10, 100);
    const kept = snapshot(3);
    const id = cache.keep(kept)!;
    expect(cache.keep(snapshot(3))).to.be.a('string').and.not.equal(id);
    expect(cache.get(id)).to.equal(kept);
    expect(cache.get('unknown')).to.equal(undefined);
    expect(cache.size).to.deep.equal({ snapshots: 2, jobIds: 6 });
  });

  it('drops the least recently used first when it holds as many snapshots as it may', () => {
    const cache = snapshots(2, 100);
    const a = cache.keep(snapshot(1))!;
    const b = cache.keep(snapshot(1))!;
    cache.get(a);
    const c = cache.keep(snapshot(1))!;
    expect([cache.get(a), cache.get(b), cache.get(c)].map((found) => found !== undefined)).to.deep.equal([true, false, true]);
    expect(cache.size).to.deep.equal({ snapshots: 2, jobIds: 2 });
  });

  it('drops as many as it takes to stay within its job ids, and keeps none larger than all of them', () => {
    const cache = snapshots(10, 10);
    const a = cache.keep(snapshot(4))!;
    const b = cache.keep(snapshot(4))!;
    const c = cache.keep(snapshot(6))!;
    expect([cache.get(a), cache.get(b), cache.get(c)].map((found) => found !== undefined)).to.deep.equal([false, true, true]);
    expect(cache.keep(snapshot(11))).to.equal(undefined);
    expect(cache.size).to.deep.equal({ snapshots: 2, jobIds: 10 });
    expect(snapshots(0, 10).keep(snapshot(1))).to.equal(undefined);
  });

  it('drops a snapshot not read for its idle time, and a read keeps it longer', () => {
    const cache = snapshots(10, 100, 1000);
    const read = cache.keep(snapshot(2))!;
    const unread = cache.keep(snapshot(3))!;
    now = 900;
    expect(cache.get(read)).to.not.equal(undefined);
    now = 1000;
    expect(cache.get(unread)).to.equal(undefined);
    now = 1899;
    expect(cache.get(read)).to.not.equal(undefined);
    expect(cache.size).to.deep.equal({ snapshots: 1, jobIds: 2 });
    now = 5000;
    cache.keep(snapshot(1));
    expect(cache.size).to.deep.equal({ snapshots: 1, jobIds: 1 });
  });
});
