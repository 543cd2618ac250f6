import { expect } from 'chai';
import { edgesByLaterEndpoint, firstPositionAfter, streamSlices } from '../../src/domain/lineage-stream.js';
import type { LineageNode } from '../../src/domain/lineage.js';

/** The pure parts of StreamLineage: slices, resume positions, edges grouped by the message that completes them. */
describe('lineage stream', () => {
  const node = (jobId: string, depth: number, relation: 'ANCESTOR' | 'DESCENDANT'): LineageNode => ({ row: { jobId, parentIds: [], tenant: 't', readers: [] }, depth, relation });
  // Nearest first, as buildLineage orders them.
  const nodes = [node('b', 1, 'ANCESTOR'), node('d', 1, 'ANCESTOR'), node('a', 1, 'DESCENDANT'), node('c', 2, 'ANCESTOR'), node('e', 2, 'DESCENDANT')];

  it('slices [root, ...nodes]: the root with the first nodes, then the slice size at a time, or one empty closing slice past the end', () => {
    expect([...streamSlices(5, 0, 2)]).to.deep.equal([{ from: 0, to: 3 }, { from: 3, to: 5 }, { from: 5, to: 6 }]);
    expect([...streamSlices(5, 4, 10)]).to.deep.equal([{ from: 4, to: 6 }]);
    expect([...streamSlices(5, 6, 2)]).to.deep.equal([{ from: 6, to: 6 }]);
    expect([...streamSlices(0, 0, 2)]).to.deep.equal([{ from: 0, to: 1 }]);
  });

  it('resumes right after the named node, or where it would stand when it is gone', () => {
    expect(firstPositionAfter({ nodes }, { depth: 0, relation: 'ROOT', jobId: 'r' })).to.equal(1);
    expect(firstPositionAfter({ nodes }, { depth: 1, relation: 'ANCESTOR', jobId: 'd' })).to.equal(3);
    expect(firstPositionAfter({ nodes }, { depth: 1, relation: 'ANCESTOR', jobId: 'c' })).to.equal(2);
    expect(firstPositionAfter({ nodes }, { depth: 1, relation: 'DESCENDANT', jobId: 'a' })).to.equal(4);
    expect(firstPositionAfter({ nodes }, { depth: 2, relation: 'DESCENDANT', jobId: 'e' })).to.equal(6);
  });

  it('groups the edges by their later endpoint, each once, in the lineage order within a group', () => {
    // Edges as index pairs into [root, ...nodes]: 1→0, 4→1, 0→3, 2→0, 3→5.
    const edgeIndexes = [1, 0, 4, 1, 0, 3, 2, 0, 3, 5];
    const { starts, edgeNumbers } = edgesByLaterEndpoint(edgeIndexes, 5);
    const edgesOf = (from: number, to: number) => [...edgeNumbers.subarray(starts[from]!, starts[to]!)];
    expect([edgesOf(0, 1), edgesOf(1, 2), edgesOf(2, 3), edgesOf(3, 4), edgesOf(4, 5), edgesOf(5, 6)]).to.deep.equal([[], [0], [3], [2], [1], [4]]);
    expect(edgesOf(0, 6)).to.deep.equal([0, 3, 2, 1, 4]);
  });
});
