import { expect } from 'chai';
import { buildLineage, lineageEdges, type LineageDirection, type LineageRow } from '../../src/domain/lineage.js';
import { LineageStreamWalk, comparePositions, type LineageStepRow, type StreamPosition, type StreamedNode } from '../../src/domain/lineage-stream.js';
import { mulberry32 } from '../support/job-records.js';

/**
 * StreamLineage's layer walk, against buildLineage (GetLineage's answer) on
 * random DAGs with parents that have no record and jobs the caller may not
 * read: the same nodes in the same order, every edge once, the same
 * truncation; and a walk resumed after any node gives exactly the rest.
 */
describe('lineage stream walk', () => {
  const JOBS = 400;
  const id = (i: number) => `j${String(i).padStart(3, '0')}`;
  const random = mulberry32(2026);
  const rows = new Map<string, LineageRow>();
  const children = new Map<string, string[]>();
  for (let i = 0; i < JOBS; i++) {
    const parents = new Set<string>();
    for (let p = 0; p < Math.min(i, 1 + Math.floor(random() * 3)); p++) parents.add(id(i - 1 - Math.floor(random() * Math.min(i, 40))));
    // Every 50th job also names a parent without a record.
    if (i % 50 === 7) parents.add(`ghost-${i}`);
    rows.set(id(i), { jobId: id(i), parentIds: [...parents], tenant: i % 9 === 4 ? 'other' : 'lab', readers: [] });
    for (const parent of parents) children.set(parent, [...(children.get(parent) ?? []), id(i)]);
  }
  // What ProvenanceStore.lineageStep answers, in no particular order.
  const step = (jobIds: readonly string[]): LineageStepRow[] =>
    jobIds.flatMap((jobId) => (rows.has(jobId) ? [{ ...rows.get(jobId)!, childIds: children.get(jobId) ?? [] }] : [])).reverse();
  const placeholder = (jobId: string) => `hidden:${jobId}`;
  const mayRead = (row: LineageRow) => row.tenant === 'lab';

  function streamed(rootId: string, directions: LineageDirection[], limits: { maxDepth: number; maxNodes: number }, resumeAfter?: StreamPosition) {
    const walk = new LineageStreamWalk({ rootId, directions, ...limits, mayRead, placeholder, ...(resumeAfter ? { resumeAfter } : {}) });
    const nodes: StreamedNode[] = [];
    for (let jobIds = walk.nextStep(); jobIds; jobIds = walk.nextStep()) nodes.push(...walk.accept(step(jobIds)));
    return { nodes, truncation: walk.truncationReasons() };
  }

  /** GetLineage's answer, from every row within maxDepth + 1 of the root, as the caller sees it (and ordered for it). */
  function expected(rootId: string, directions: LineageDirection[], limits: { maxDepth: number; maxNodes: number }) {
    const within = (direction: LineageDirection) => {
      const found: LineageRow[] = [];
      const seen = new Set([rootId]);
      let frontier = [rootId];
      for (let depth = 1; depth <= limits.maxDepth + 1 && frontier.length > 0; depth++) {
        const next = frontier.flatMap((jobId) => (direction === 'ANCESTORS' ? (rows.get(jobId)?.parentIds ?? []) : (children.get(jobId) ?? [])));
        frontier = next.filter((jobId) => rows.has(jobId) && !seen.has(jobId) && seen.add(jobId));
        found.push(...frontier.map((jobId) => rows.get(jobId)!));
      }
      return found;
    };
    const lineage = buildLineage(rows.get(rootId)!, { ...(directions.includes('ANCESTORS') ? { ancestors: within('ANCESTORS') } : {}), ...(directions.includes('DESCENDANTS') ? { descendants: within('DESCENDANTS') } : {}) }, limits, undefined, { mayRead, placeholder });
    const shown = (jobId: string) => (jobId === rootId || mayRead(rows.get(jobId)!) ? jobId : placeholder(jobId));
    return {
      nodes: lineage.nodes.map((node) => [shown(node.row.jobId), node.depth, node.relation, !mayRead(node.row)]),
      edges: lineageEdges(lineage).map((edge) => `${shown(edge.parentJobId)}>${shown(edge.childJobId)}`).sort(),
      truncation: lineage.truncation,
    };
  }

  const nodesOf = (nodes: readonly StreamedNode[]) => nodes.map((s) => [s.node.row.jobId, s.node.depth, s.node.relation, s.node.restricted ?? false]);
  const edgesOf = (nodes: readonly StreamedNode[]) => nodes.flatMap((s) => s.edges.map((edge) => `${edge.parentJobId}>${edge.childJobId}`)).sort();

  for (const [label, rootId, directions, limits] of [
    ['ancestors', id(380), ['ANCESTORS'], { maxDepth: 100, maxNodes: 10_000 }],
    ['descendants', id(1), ['DESCENDANTS'], { maxDepth: 100, maxNodes: 10_000 }],
    ['both', id(200), ['ANCESTORS', 'DESCENDANTS'], { maxDepth: 100, maxNodes: 10_000 }],
    ['both, cut by depth', id(200), ['ANCESTORS', 'DESCENDANTS'], { maxDepth: 3, maxNodes: 10_000 }],
    ['both, cut by nodes and depth', id(200), ['ANCESTORS', 'DESCENDANTS'], { maxDepth: 4, maxNodes: 50 }],
    ['descendants, cut by nodes only', id(1), ['DESCENDANTS'], { maxDepth: 100, maxNodes: 30 }],
  ] as const) {
    it(`sends GetLineage's nodes in its order, its edges once each, and its truncation (${label})`, () => {
      const want = expected(rootId, [...directions], limits);
      expect(want.nodes.length).to.be.greaterThan(20);
      const got = streamed(rootId, [...directions], limits);
      expect(nodesOf(got.nodes)).to.deep.equal(want.nodes);
      expect(edgesOf(got.nodes)).to.deep.equal(want.edges);
      expect(got.truncation).to.deep.equal(want.truncation);
      const positions = got.nodes.map((s) => s.position);
      expect(positions.every((position, i) => i === 0 || comparePositions(positions[i - 1]!, position) < 0)).to.equal(true);
    });
  }

  it('resumed after any node, sends exactly the rest, with the edges of the rest', () => {
    const limits = { maxDepth: 100, maxNodes: 10_000 };
    const whole = streamed(id(200), ['ANCESTORS', 'DESCENDANTS'], limits).nodes;
    expect(whole.some((s) => s.node.restricted)).to.equal(true);
    for (const cut of [0, 1, 17, Math.floor(whole.length / 2), whole.length - 1]) {
      const rest = streamed(id(200), ['ANCESTORS', 'DESCENDANTS'], limits, whole[cut]!.position).nodes;
      expect(nodesOf(rest)).to.deep.equal(nodesOf(whole.slice(cut + 1)));
      expect(edgesOf(rest)).to.deep.equal(edgesOf(whole.slice(cut + 1)));
    }
    const afterRoot = streamed(id(200), ['ANCESTORS', 'DESCENDANTS'], limits, { depth: 0, relation: 'ROOT', jobId: id(200) }).nodes;
    expect(nodesOf(afterRoot)).to.deep.equal(nodesOf(whole));
  });

  it('asks the store for at most a thousand jobs at a time', () => {
    const walk = new LineageStreamWalk({ rootId: id(0), directions: ['DESCENDANTS'], maxDepth: 100, maxNodes: 10_000, mayRead, placeholder });
    for (let jobIds = walk.nextStep(); jobIds; jobIds = walk.nextStep()) {
      expect(jobIds.length).to.be.at.most(1000);
      walk.accept(step(jobIds));
    }
  });
});
