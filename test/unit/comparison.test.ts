import { expect } from 'chai';
import { alignParents, COMPARISON_LIMITS, compareJobs, payloadDifferences } from '../../src/domain/comparison.js';
import { DEFAULT_VOLATILE_KEYS } from '../../src/domain/hashing.js';
import type { JobRecord } from '../../src/domain/job.js';
import type { JsonObject } from '../../src/domain/json.js';
import { makeJob } from '../support/job-records.js';

const readAll = { mayRead: () => true, placeholder: (id: string) => `opaque-${id}`, shownId: (id: string) => id };
const job = (jobId: string, outputHash: string, overrides: Partial<JobRecord> = {}): JobRecord => {
  const made = makeJob({ jobId, type: 'train', payload: {}, ...overrides });
  return { ...made, result: { outputHash, cached: false } };
};
const byId = (...records: JobRecord[]) => new Map(records.map((r) => [r.jobId, r]));
const input = (left: JobRecord, right: JobRecord, ancestors: Map<string, JobRecord>) => ({
  left,
  right,
  ancestors,
  known: new Map([...ancestors, [left.jobId, left], [right.jobId, right]]),
  ancestryTruncated: false,
  maxAncestorPairs: 1000,
  volatileKeys: new Set(DEFAULT_VOLATILE_KEYS),
  viewer: readAll,
});

describe('comparison: payload differences', () => {
  it('names each differing member and item by JSON pointer, in path order, escaping ~ and /', () => {
    const left: JsonObject = { b: { 'x/y': 1, 'm~n': [1, 2, 3] }, a: 'same', gone: true };
    const right: JsonObject = { b: { 'x/y': 2, 'm~n': [1, 5] }, a: 'same', added: null };
    expect(payloadDifferences(left, right).map((d) => [d.path, d.leftValueJson, d.rightValueJson])).to.deep.equal([
      ['/added', '', 'null'],
      ['/b/m~0n/1', '2', '5'],
      ['/b/m~0n/2', '3', ''],
      ['/b/x~1y', '1', '2'],
      ['/gone', 'true', ''],
    ]);
  });

  it('compares a value that changes kind whole, and leaves out values past the size bound', () => {
    const long = 'x'.repeat(COMPARISON_LIMITS.maxValueJsonLength);
    expect(payloadDifferences({ a: [1] }, { a: { 0: 1 } })).to.deep.equal([{ path: '/a', leftValueJson: '[1]', rightValueJson: '{"0":1}', valuesOmitted: false }]);
    expect(payloadDifferences({ a: long }, { a: 'short' })).to.deep.equal([{ path: '/a', leftValueJson: '', rightValueJson: '', valuesOmitted: true }]);
  });

  it('counts the payload differences past the bound instead of listing them', () => {
    const many = (value: number) => Object.fromEntries(Array.from({ length: COMPARISON_LIMITS.maxPayloadDifferences + 5 }, (_, i) => [`k${i}`, value]));
    const { difference } = compareJobs(input(job('l', 'h', { payload: many(1) }), job('r', 'h', { payload: many(2) }), new Map()));
    expect(difference.payloadDifferences).to.have.length(COMPARISON_LIMITS.maxPayloadDifferences);
    expect(difference.omittedPayloadDifferenceCount).to.equal(5);
  });
});

describe('comparison: provider and parents', () => {
  it('names each provider field that changed', () => {
    const left = job('l', 'h', { provider: { id: 'p', model: 'm1', version: '1' } });
    const right = job('r', 'h', { provider: { id: 'p', model: 'm2', version: '2' } });
    expect(compareJobs(input(left, right, new Map())).difference.providerChanges).to.deep.equal([
      { field: 'model', leftValue: 'm1', rightValue: 'm2' },
      { field: 'version', leftValue: '1', rightValue: '2' },
    ]);
  });

  it('aligns parents by definition hash first, then by type, leaves shared ones out, and lists the rest as unaligned', () => {
    const p1 = job('p1', 'h1', { type: 'clean', payload: { n: 1 } });
    const p2 = job('p2', 'h2', { type: 'clean', payload: { n: 2 } });
    const q2 = job('q2', 'h2', { type: 'clean', payload: { n: 2 } });
    const q1 = job('q1', 'h1', { type: 'clean', payload: { n: 9 } });
    const shared = job('shared', 'hs');
    const lonely = job('lonely', 'hl', { type: 'fetch' });
    const left = job('l', 'h', { parentIds: ['p1', 'p2', 'shared', 'lonely'] });
    const right = job('r', 'h', { parentIds: ['q1', 'shared', 'q2'] });
    const aligned = alignParents(left, right, { ancestors: byId(p1, p2, q1, q2, shared, lonely), viewer: readAll });
    expect(aligned.pairs.map(([l, r]) => [l.jobId, r.jobId])).to.deep.equal([['p1', 'q1'], ['p2', 'q2']]);
    expect([aligned.unalignedLeft, aligned.unalignedRight]).to.deep.equal([['lonely'], []]);
  });
});

describe('comparison: the divergence walk', () => {
  it('walks up through pairs that differ only by their parents to the nearest pairs where the difference starts', () => {
    // a → b → c and a2 → b2 → c2: only a and a2 differ, in their outputs; d is shared by both c and c2.
    const a = job('a', 'h-a');
    const a2 = job('a2', 'h-a2');
    const b = job('b', 'h-b', { type: 'clean', parentIds: ['a'] });
    const b2 = job('b2', 'h-b2', { type: 'clean', parentIds: ['a2'] });
    const d = job('d', 'h-d', { type: 'fetch' });
    const c = job('c', 'h-c', { parentIds: ['b', 'd'] });
    const c2 = job('c2', 'h-c2', { parentIds: ['b2', 'd'] });
    const comparison = compareJobs(input(c, c2, byId(a, a2, b, b2, d)));
    expect(comparison.difference.parentOutputDifferences.map((p) => [p.leftParentJobId, p.rightParentJobId])).to.deep.equal([['b', 'b2']]);
    expect(comparison.divergences.map((v) => [v.depth, v.restricted ? '' : v.difference.leftJobId])).to.deep.equal([[2, 'a']]);
    expect(comparison.comparedAncestorPairCount).to.equal(2);
  });

  it('stops at a pair whose own definition differs, without going above it', () => {
    const a = job('a', 'h-a');
    const a2 = job('a2', 'h-a2');
    const b = job('b', 'h-b', { type: 'clean', parentIds: ['a'], payload: { k: 1 } });
    const b2 = job('b2', 'h-b2', { type: 'clean', parentIds: ['a2'], payload: { k: 2 } });
    const c = job('c', 'h', { parentIds: ['b'] });
    const c2 = job('c2', 'h', { parentIds: ['b2'] });
    const comparison = compareJobs(input(c, c2, byId(a, a2, b, b2)));
    expect(comparison.divergences.map((v) => [v.depth, v.restricted ? '' : v.difference.payloadDifferences.map((p) => p.path)])).to.deep.equal([[1, ['/k']]]);
  });

  it('shows unaligned parents the caller may not read as restricted placeholders, and compares nothing of them', () => {
    const hidden = job('hidden', 'secret', { tenant: 'other' });
    const c = job('c', 'h', { parentIds: ['hidden'] });
    const c2 = job('c2', 'h');
    const mayRead = (r: { tenant: string }) => r.tenant !== 'other';
    const viewer = { mayRead, placeholder: (id: string) => `opaque-${id}`, shownId: (id: string) => (id === 'hidden' ? `opaque-${id}` : id) };
    const comparison = compareJobs({ ...input(c, c2, byId(hidden)), viewer });
    expect(comparison.difference.unalignedLeftParentJobIds).to.deep.equal(['opaque-hidden']);
    expect(comparison.divergences).to.deep.equal([{ depth: 1, restricted: true, leftJobId: 'opaque-hidden', rightJobId: '' }]);
  });

  it('stops, truncated, past the bound on ancestor pairs', () => {
    const a = job('a', 'h-a');
    const a2 = job('a2', 'h-a2');
    const b = job('b', 'h-b', { parentIds: ['a'] });
    const b2 = job('b2', 'h-b2', { parentIds: ['a2'] });
    const comparison = compareJobs({ ...input(job('c', 'h', { parentIds: ['b'] }), job('c2', 'h', { parentIds: ['b2'] }), byId(a, a2, b, b2)), maxAncestorPairs: 1 });
    expect(comparison).to.deep.include({ truncated: true, comparedAncestorPairCount: 1, divergences: [] });
  });
});
