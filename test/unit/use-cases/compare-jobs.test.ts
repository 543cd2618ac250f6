import { expect } from 'chai';
import { SqliteProvenanceStore } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import { MemoryProvenanceStore } from '../../../src/adapters/memory/memory-provenance-store.js';
import { readerGrant } from '../../../src/domain/access.js';
import { ProvenanceError } from '../../../src/domain/errors.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { rejection } from '../../support/waits.js';
import { recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';

const alice = principal('lab', 'alice');
const eve = principal('other-lab', 'eve');

const stores: Array<{ name: string; open(): ProvenanceStore }> = [
  { name: 'memory', open: () => new MemoryProvenanceStore() },
  { name: 'SQLite', open: () => SqliteProvenanceStore.open({ path: ':memory:' }) },
];

/** CompareJobs (issue #16 item 4) on the memory and SQLite stores. */
for (const { name, open } of stores) {
  describe(`use cases: CompareJobs (${name})`, () => {
    let s: MemoryService;
    beforeEach(() => {
      s = memoryService({ store: open() });
    });
    afterEach(() => s.close());

    const record = (jobId: string, extra: Parameters<typeof recordJobCommand>[0] = {}, who = alice) => s.service.recordJob(who, recordJobCommand({ jobId, ...extra }));
    const compare = (leftJobId: string, rightJobId: string, who = alice) => s.service.compareJobs(who, { leftJobId, rightJobId });

    it("names only the grandparent's output difference, at depth 2, for a chain rerun from its root", async () => {
      await record('a', { payload: { source: 's3://clicks' }, outputHash: 'h-a' });
      await record('b', { type: 'clean', parentIds: ['a'], outputHash: 'h-b' });
      await record('c', { type: 'train', parentIds: ['b'], outputHash: 'h-c' });
      await record('a2', { payload: { source: 's3://clicks' }, outputHash: 'h-a2' });
      await record('b2', { type: 'clean', parentIds: ['a2'], outputHash: 'h-b2' });
      await record('c2', { type: 'train', parentIds: ['b2'], outputHash: 'h-c2' });

      const comparison = await compare('c', 'c2');
      expect(comparison.difference).to.deep.include({
        definitionHashEqual: true,
        payloadDifferences: [],
        providerChanges: [],
        unalignedLeftParentJobIds: [],
        unalignedRightParentJobIds: [],
        parentOutputDifferences: [{ leftParentJobId: 'b', rightParentJobId: 'b2', leftOutputHash: 'h-b', rightOutputHash: 'h-b2' }],
      });
      expect(comparison.divergences).to.have.length(1);
      const [divergence] = comparison.divergences;
      expect(divergence).to.deep.include({ depth: 2, restricted: false });
      expect(divergence!.restricted === false && divergence!.difference).to.deep.include({
        leftJobId: 'a',
        rightJobId: 'a2',
        definitionHashEqual: true,
        payloadDifferences: [],
        providerChanges: [],
        outputHashEqual: false,
        leftOutputHash: 'h-a',
        rightOutputHash: 'h-a2',
        parentOutputDifferences: [],
      });
      expect(comparison).to.deep.include({ omittedDivergenceCount: 0, truncated: false, comparedAncestorPairCount: 2 });
    });

    it('names exactly the changed payload path of a rerun, after removing the volatile keys', async () => {
      await record('p', { payload: { lr: 0.1, seed: 7, requestedAt: '2026-01-01' } });
      await record('p2', { payload: { lr: 0.2, seed: 7, requestedAt: '2026-02-02' } });
      const { difference, divergences } = await compare('p', 'p2');
      expect(difference.definitionHashEqual).to.equal(false);
      expect(difference.payloadDifferences).to.deep.equal([{ path: '/lr', leftValueJson: '0.1', rightValueJson: '0.2', valuesOmitted: false }]);
      expect(difference.providerChanges).to.deep.equal([]);
      expect(divergences).to.deep.equal([]);
    });

    it('names exactly a changed provider version', async () => {
      await record('q', { provider: { id: 'openai', model: 'gpt', version: '1' } });
      await record('q2', { provider: { id: 'openai', model: 'gpt', version: '2' } });
      const { difference } = await compare('q', 'q2');
      expect(difference).to.deep.include({ definitionHashEqual: true, payloadDifferences: [], parentOutputDifferences: [], outputHashEqual: true });
      expect(difference.providerChanges).to.deep.equal([{ field: 'version', leftValue: '1', rightValue: '2' }]);
    });

    it("answers NOT_FOUND for another tenant's job, as GetJob does", async () => {
      await record('mine');
      await record('theirs', {}, eve);
      const failure = await rejection(compare('mine', 'theirs'));
      expect(failure).to.be.instanceOf(ProvenanceError);
      expect((failure as ProvenanceError).code).to.equal('NOT_FOUND');
    });

    it('shows an ancestor the caller may not read as a placeholder only', async () => {
      const shared = [readerGrant(eve)!];
      await record('hidden', { outputHash: 'secret-1' });
      await record('hidden2', { outputHash: 'secret-2' });
      await record('x', { type: 'report', parentIds: ['hidden'], readers: shared });
      await record('x2', { type: 'report', parentIds: ['hidden2'], readers: shared });
      const comparison = await compare('x', 'x2', eve);
      const text = JSON.stringify(comparison);
      for (const secret of ['"hidden"', '"hidden2"', 'secret-1', 'secret-2']) expect(text).to.not.include(secret);
      const [left] = comparison.difference.unalignedLeftParentJobIds;
      const [right] = comparison.difference.unalignedRightParentJobIds;
      expect(comparison.difference.parentOutputDifferences).to.deep.equal([]);
      expect(comparison.divergences).to.deep.equal([
        { depth: 1, restricted: true, leftJobId: left, rightJobId: '' },
        { depth: 1, restricted: true, leftJobId: '', rightJobId: right },
      ].sort((a, b) => (a.leftJobId < b.leftJobId ? -1 : a.leftJobId > b.leftJobId ? 1 : 0)));
      // alice, who may read both, is told how they differ.
      const owner = await compare('x', 'x2');
      expect(owner.difference.parentOutputDifferences).to.deep.equal([{ leftParentJobId: 'hidden', rightParentJobId: 'hidden2', leftOutputHash: 'secret-1', rightOutputHash: 'secret-2' }]);
    });

    it('names a parent that has no record by its id, as every read path does', async () => {
      await record('d', { parentIds: ['gone'], allowMissingParents: true });
      await record('d2');
      const { difference, divergences } = await compare('d', 'd2');
      expect([difference.unalignedLeftParentJobIds, difference.unalignedRightParentJobIds]).to.deep.equal([['gone'], []]);
      expect(divergences).to.deep.equal([]);
    });
  });
}
