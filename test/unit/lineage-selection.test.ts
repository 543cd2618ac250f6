import { expect } from 'chai';
import { buildLineage, lineageEdges, type Lineage, type LineageRow } from '../../src/domain/lineage.js';
import { COLLAPSE_LIMITS, type LineageSelection } from '../../src/domain/lineage-selection.js';
import { ProvenanceError } from '../../src/domain/errors.js';

/**
 * The filter modes and fan-out caps on small graphs drawn here; random
 * graphs through the API: test/e2e/lineage-filters-random-dag.test.ts.
 */

const row = (jobId: string, parentIds: string[] = [], type = 'keep'): LineageRow => ({ jobId, parentIds, tenant: 't', readers: [], type });
const LIMITS = { maxDepth: 100, maxNodes: 1000 };
const keepType: LineageSelection['matches'] = (r) => r.type === 'keep';
const select = (overrides: Partial<LineageSelection>): LineageSelection => ({ mode: 'COLLAPSE', maxChildrenPerNode: 0, maxParentsPerNode: 0, ...overrides });

const shape = (lineage: Lineage) => ({
  nodes: lineage.nodes.map((n) => `${n.row.jobId}@${n.depth}${n.fanOut ? ` -${n.fanOut.omittedChildren}/${n.fanOut.omittedParents}` : ''}`),
  edges: lineageEdges(lineage).map((e) => `${e.parentJobId}>${e.childJobId}`),
  root: lineage.rootFanOut,
  truncation: lineage.truncation,
});

describe('lineage selection (filters and fan-out caps)', () => {
  // r -> x (skip) -> a (keep) -> y (skip) -> b (keep); r -> c (keep); c -> b
  const root = row('r');
  const descendants = [row('x', ['r'], 'skip'), row('a', ['x']), row('y', ['a'], 'skip'), row('b', ['y', 'c']), row('c', ['r'])];

  it('without a selection is the plain lineage', () => {
    expect(shape(buildLineage(root, { descendants }, LIMITS, select({})))).to.deep.equal(shape(buildLineage(root, { descendants }, LIMITS)));
  });

  it('COLLAPSE keeps the matching jobs at their true depths, with edges through the others', () => {
    expect(shape(buildLineage(root, { descendants }, LIMITS, select({ matches: keepType })))).to.deep.equal({
      nodes: ['c@1', 'a@2', 'b@2'],
      edges: ['r>c', 'r>a', 'c>b', 'a>b'],
      root: undefined,
      truncation: [],
    });
  });

  it('PRUNE stops at the jobs that do not match, and at what only they join to the root', () => {
    expect(shape(buildLineage(root, { descendants }, LIMITS, select({ matches: keepType, mode: 'PRUNE' })))).to.deep.equal({
      nodes: ['c@1', 'b@2'],
      edges: ['r>c', 'c>b'],
      root: undefined,
      truncation: [],
    });
  });

  it('caps children nearest first, counts what each job left out, and never changes depths', () => {
    // r has children c, x (by job id: c first); with one child per job, x and what only it reaches are left out.
    expect(shape(buildLineage(root, { descendants }, LIMITS, select({ maxChildrenPerNode: 1 })))).to.deep.equal({
      nodes: ['c@1', 'b@2'],
      edges: ['r>c', 'c>b'],
      root: { omittedChildren: 1, omittedParents: 0 },
      truncation: ['FAN_OUT'],
    });
  });

  it('caps parents of the root and ancestors, and keeps an edge from an ancestor to a descendant', () => {
    // p1, p2 -> r; p1 -> d (a descendant of r too: r -> d)
    const lineage = buildLineage(row('r', ['p1', 'p2']), { ancestors: [row('p1'), row('p2')], descendants: [row('d', ['r', 'p1'])] }, LIMITS, select({ maxParentsPerNode: 1 }));
    expect(shape(lineage)).to.deep.equal({
      nodes: ['p1@1', 'd@1'],
      edges: ['p1>r', 'r>d', 'p1>d'],
      root: { omittedChildren: 0, omittedParents: 1 },
      truncation: ['FAN_OUT'],
    });
  });

  it('refuses a COLLAPSE answer past its edge limit: a non-matching hub between m matching parents and m matching children', () => {
    const m = Math.ceil(Math.sqrt(COLLAPSE_LIMITS.edges)) + 1;
    const parents = Array.from({ length: m }, (_, i) => row(`p${i}`, ['r']));
    const hub = row('hub', parents.map((p) => p.jobId), 'skip');
    const children = Array.from({ length: m }, (_, i) => row(`c${i}`, ['hub']));
    const limits = { maxDepth: 100, maxNodes: 10 * m };
    const build = () => buildLineage(row('r'), { descendants: [...parents, hub, ...children] }, limits, select({ matches: keepType }));
    expect(build).to.throw(ProvenanceError).with.property('code', 'RESOURCE_EXHAUSTED');
    // PRUNE on the same graph is linear: it stops at the hub.
    expect(buildLineage(row('r'), { descendants: [...parents, hub, ...children] }, limits, select({ matches: keepType, mode: 'PRUNE' })).nodes).to.have.length(m);
  });

  it('cuts the capped answer at max_nodes, nearest first, with the counts of the jobs left', () => {
    const hub = row('h');
    const children = Array.from({ length: 30 }, (_, i) => row(`k${String(i).padStart(2, '0')}`, ['h']));
    const lineage = buildLineage(hub, { descendants: children }, { maxDepth: 100, maxNodes: 5 }, select({ maxChildrenPerNode: 10 }));
    expect(shape(lineage)).to.deep.equal({
      nodes: ['k00@1', 'k01@1', 'k02@1', 'k03@1', 'k04@1'],
      edges: ['h>k00', 'h>k01', 'h>k02', 'h>k03', 'h>k04'],
      root: { omittedChildren: 20, omittedParents: 0 },
      truncation: ['FAN_OUT', 'MAX_NODES'],
    });
  });
});
