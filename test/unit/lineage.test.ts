import { expect } from 'chai';
import {
  LINEAGE_STEP_SIZE,
  NodesOfColumns,
  buildLineage,
  buildLineageInSteps,
  descendantsNearestFirst,
  lineageEdges,
  lineageOfColumns,
  findCycle,
  parentIndexesInSteps,
  sortInSteps,
  type LineageRow,
} from '../../src/domain/lineage.js';
import { allSteps } from '../../src/domain/graph-export/in-steps.js';
import { toUtf8Strings } from '../../src/domain/utf8-strings.js';
import { mulberry32 } from '../support/job-records.js';

const row = (jobId: string, ...parentIds: string[]): LineageRow => ({ jobId, parentIds, tenant: 't', readers: [] });

// a ← b ← c ← d, and a ← d: d's shortest path to a is one edge.
const a = row('a');
const b = row('b', 'a');
const c = row('c', 'b');
const d = row('d', 'c', 'a');
const e = row('e', 'd');

describe('buildLineage', () => {
  it('gives ancestors their shortest depth, the edges among them and the lineage depth', () => {
    const lineage = buildLineage(e, { ancestors: [a, b, c, d] }, { maxDepth: 10, maxNodes: 100 });
    expect(lineage.nodes.map((n) => [n.row.jobId, n.depth, n.relation])).to.deep.equal([
      ['d', 1, 'ANCESTOR'],
      ['a', 2, 'ANCESTOR'],
      ['c', 2, 'ANCESTOR'],
      ['b', 3, 'ANCESTOR'],
    ]);
    expect(lineageEdges(lineage)).to.have.deep.members([
      { parentJobId: 'd', childJobId: 'e' },
      { parentJobId: 'c', childJobId: 'd' },
      { parentJobId: 'a', childJobId: 'd' },
      { parentJobId: 'b', childJobId: 'c' },
      { parentJobId: 'a', childJobId: 'b' },
    ]);
    expect(lineage.ancestorDepth).to.equal(3);
    expect(lineage.descendantDepth).to.equal(0);
    expect(lineage.truncation).to.deep.equal([]);
  });

  it('gives descendants their shortest depth', () => {
    const lineage = buildLineage(a, { descendants: [b, c, d, e] }, { maxDepth: 10, maxNodes: 100 });
    expect(lineage.nodes.map((n) => [n.row.jobId, n.depth])).to.deep.equal([
      ['b', 1],
      ['d', 1],
      ['c', 2],
      ['e', 2],
    ]);
    expect(lineage.descendantDepth).to.equal(2);
  });

  it('reports MAX_DEPTH when rows lie beyond the depth limit, and drops them', () => {
    const lineage = buildLineage(e, { ancestors: [a, b, c, d] }, { maxDepth: 2, maxNodes: 100 });
    expect(lineage.nodes.map((n) => n.row.jobId)).to.deep.equal(['d', 'a', 'c']);
    expect(lineage.truncation).to.deep.equal(['MAX_DEPTH']);
    expect(lineageEdges(lineage)).not.to.deep.include({ parentJobId: 'b', childJobId: 'c' });
  });

  it('does not report truncation when the deepest row is exactly at the limit', () => {
    expect(buildLineage(e, { ancestors: [a, b, c, d] }, { maxDepth: 3, maxNodes: 100 }).truncation).to.deep.equal([]);
  });

  it('keeps the nearest nodes of both directions under MAX_NODES', () => {
    const lineage = buildLineage(c, { ancestors: [a, b], descendants: [d, e] }, { maxDepth: 10, maxNodes: 2 });
    expect(lineage.nodes.map((n) => [n.row.jobId, n.relation])).to.deep.equal([
      ['b', 'ANCESTOR'],
      ['d', 'DESCENDANT'],
    ]);
    expect(lineage.truncation).to.deep.equal(['MAX_NODES']);
    expect(lineageEdges(lineage)).to.have.deep.members([
      { parentJobId: 'b', childJobId: 'c' },
      { parentJobId: 'c', childJobId: 'd' },
    ]);
  });

  it('ignores parents that have no row (dangling references)', () => {
    const lineage = buildLineage(row('x', 'missing', 'a'), { ancestors: [a] }, { maxDepth: 5, maxNodes: 10 });
    expect(lineage.nodes.map((n) => n.row.jobId)).to.deep.equal(['a']);
    expect(lineageEdges(lineage)).to.deep.equal([{ parentJobId: 'a', childJobId: 'x' }]);
  });

  it('includes an edge between an ancestor and a descendant', () => {
    // a → r → s and a → s
    const lineage = buildLineage(row('r', 'a'), { ancestors: [a], descendants: [row('s', 'r', 'a')] }, { maxDepth: 5, maxNodes: 10 });
    expect(lineageEdges(lineage)).to.deep.include({ parentJobId: 'a', childJobId: 's' });
  });
});

describe('buildLineageInSteps', () => {
  it('pauses between steps of a large lineage and ends with what buildLineage builds', () => {
    // A chain of 2.5 steps' worth of ancestors, each also a child of the first: 5 steps' worth of edges.
    const count = LINEAGE_STEP_SIZE * 2.5;
    const rows = Array.from({ length: count }, (_, i) => row(`j${i}`, ...(i === 0 ? [] : [`j${i - 1}`, 'j0'])));
    const root = row('root', `j${count - 1}`);
    const steps = buildLineageInSteps(root, { ancestors: rows, descendants: [] }, { maxDepth: count, maxNodes: count });
    let pauses = 0;
    let step = steps.next();
    for (; !step.done; step = steps.next()) pauses++;
    expect(pauses).to.be.at.least(6);
    expect(step.value).to.deep.equal(buildLineage(root, { ancestors: rows, descendants: [] }, { maxDepth: count, maxNodes: count }));
    expect(step.value.nodes).to.have.length(count);
  });
});

describe('sortInSteps', () => {
  it("orders as Array.prototype.sort does, pausing after each run sorted and each run's worth merged", () => {
    const random = mulberry32(20261205);
    // A total order: by a small key with many ties, then by a unique one.
    const compare = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
    for (const count of [0, 1, LINEAGE_STEP_SIZE, LINEAGE_STEP_SIZE + 1, LINEAGE_STEP_SIZE * 3.5]) {
      const items = Array.from({ length: count }, (_, i): [number, number] => [Math.floor(random() * 50), i]).sort(() => random() - 0.5);
      const expected = [...items].sort(compare);
      const steps = sortInSteps(items, compare);
      let pauses = 0;
      let step = steps.next();
      for (; !step.done; step = steps.next()) pauses++;
      expect(step.value, `${count} items`).to.deep.equal(expected);
      const runs = Math.ceil(count / LINEAGE_STEP_SIZE);
      if (runs > 1) expect(pauses, `${count} items`).to.equal(runs + Math.floor((count * Math.ceil(Math.log2(runs))) / LINEAGE_STEP_SIZE));
      else expect(pauses).to.equal(0);
    }
  });
});

describe('descendantsNearestFirst', () => {
  const finish = <T>(steps: Generator<void, T>): T => {
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  };

  it('orders the descendants by their shortest depth, then job id, found by search or given by the store, and leaves out a row that does not reach the root', () => {
    // Of a: b and d at 1 (d names a), c at 2, e at 2 (through d); x names nothing of a's.
    const rows = [e, row('x', 'y'), d, c, b];
    expect(finish(descendantsNearestFirst('a', rows)).map((r) => r.jobId)).to.deep.equal(['b', 'd', 'c', 'e']);
    const withDepths = [{ ...e, depth: 2 }, { ...d, depth: 1 }, { ...c, depth: 2 }, { ...b, depth: 1 }];
    expect(finish(descendantsNearestFirst('a', withDepths)).map((r) => r.jobId)).to.deep.equal(['b', 'd', 'c', 'e']);
  });

  it('pauses on a long list and gives what one sort gives', () => {
    const count = 3 * LINEAGE_STEP_SIZE;
    const random = mulberry32(7);
    const rows = Array.from({ length: count }, (_, i) => ({ ...row(`j${i}`, 'a'), depth: 1 + Math.floor(random() * 5) }));
    const steps = descendantsNearestFirst('a', rows);
    let pauses = 0;
    let step = steps.next();
    for (; !step.done; step = steps.next()) pauses++;
    expect(pauses).to.be.greaterThan(1);
    const expected = [...rows].sort((x, y) => x.depth - y.depth || (x.jobId < y.jobId ? -1 : x.jobId > y.jobId ? 1 : 0));
    expect(step.value.map((r) => r.jobId)).to.deep.equal(expected.map((r) => r.jobId));
  });
});

describe('findCycle', () => {
  it('finds the path a new record would close', () => {
    // b and c were recorded naming x, which did not exist yet; x now names c as its parent.
    expect(findCycle('x', ['c'], [row('b', 'x'), row('c', 'b')])).to.deep.equal(['x', 'b', 'c', 'x']);
  });

  it('finds a job that names itself', () => {
    expect(findCycle('x', ['x'], [])).to.deep.equal(['x', 'x']);
  });

  it('finds nothing when the parents are not descendants', () => {
    expect(findCycle('x', ['a'], [row('b', 'x'), row('c', 'b')])).to.equal(undefined);
  });
});

describe('parentIndexesInSteps', () => {
  it("gives each job of a lineage its parents in it, from the edges, pausing on many", () => {
    const random = mulberry32(5);
    const count = 10_000;
    const edgeIndexes: number[] = [];
    for (let child = 1; child < count; child++) {
      for (const parent of new Set([0, 1, 2].map(() => Math.floor(random() * count)))) if (parent !== child) edgeIndexes.push(parent, child);
    }
    const steps = parentIndexesInSteps({ nodes: { length: count - 1, slice: () => [] }, edgeIndexes });
    let pauses = 0;
    let step = steps.next();
    for (; !step.done; step = steps.next()) pauses++;
    const { starts, parents } = step.value;
    expect(pauses).to.be.above(0);
    const expected = Array.from({ length: count }, (): number[] => []);
    for (let k = 0; k < edgeIndexes.length; k += 2) expected[edgeIndexes[k + 1]!]!.push(edgeIndexes[k]!);
    for (let i = 0; i < count; i++) expect([...parents.subarray(starts[i], starts[i + 1])].sort(), `job ${i}`).to.deep.equal(expected[i]!.sort());
  });
});

describe('NodesOfColumns', () => {
  it('makes the nodes of a range from the columns, restricted ones under their placeholders, as lineageOfColumns makes them all', () => {
    const ids = ['a', 'b', 'çé', 'd', 'e'];
    const columns = {
      jobIds: toUtf8Strings(ids),
      depths: Int32Array.from([1, 1, 2, 2, 3]),
      relations: Uint8Array.from([0, 1, 0, 1, 0]),
      accessIndexes: Int32Array.from([0, 1, 0, 1, 0]),
      accesses: [{ tenant: 't', readers: [] }, { tenant: 'u', readers: ['t/x'] }],
      restricted: [3],
      placeholders: ['opaque-d'],
    };
    const nodes = new NodesOfColumns(columns);
    const all = allSteps(lineageOfColumns({ root: row('r'), columns, edgeIndexes: new Int32Array(0), ancestorDepth: 3, descendantDepth: 2, truncation: [], hiddenNodeCount: 1 })).nodes;
    expect(nodes.length).to.equal(5);
    expect(nodes.slice(1, 4)).to.deep.equal(all.slice(1, 4));
    expect(nodes.slice(3, 99)).to.deep.equal(all.slice(3));
    expect(nodes.slice(2, 3)[0]).to.deep.include({ depth: 2, relation: 'ANCESTOR', row: { jobId: 'çé', parentIds: [], tenant: 't', readers: [] } });
    expect(all[3]).to.deep.include({ restricted: true, row: { jobId: 'opaque-d', parentIds: [], tenant: '', readers: [] } });
    expect([0, 1, 2, 3, 4].map((i) => nodes.shownId(i))).to.deep.equal(['a', 'b', 'çé', 'opaque-d', 'e']);
    expect(nodes.jobId(3)).to.equal('d');
    expect(nodes.access(1)).to.deep.equal({ tenant: 'u', readers: ['t/x'] });
  });
});
