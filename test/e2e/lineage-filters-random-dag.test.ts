import { expect } from 'chai';
import type { JobRecord } from '../../src/domain/job.js';
import { JobStatus, LineageDirection, LineageFilterMode, LineageView, StreamLineageRequest, TruncationReason, type GetLineageResponse, type StreamLineageResponse } from '@provenance/client';
import { connect } from '../support/grpc-client.js';
import { mulberry32, randomDag } from '../support/job-records.js';
import type { ServerProcess } from '../support/server-process.js';
import { storeLanes, type StoreLane } from '../support/store-lanes.js';

/**
 * Lineage filters (COLLAPSE and PRUNE) and per-hop fan-out caps on a seeded
 * random DAG with a few hub jobs, through the gRPC API, checked answer by
 * answer against a walk written here, independently of the service: nodes
 * with their true depths and relations, edges, what each job's caps left
 * out, and the truncation reasons; StreamLineage and ExportProvenanceGraph
 * against GetLineage on some of the same questions.
 */

const LIMITS = { PROVENANCE_MAX_LINEAGE_DEPTH: '10000', PROVENANCE_MAX_LINEAGE_NODES: '1000000' };

interface Lane extends StoreLane {
  jobs: number;
  questions: number;
}

const [sqliteLane, mongoLane] = storeLanes('provenance-filters-', LIMITS);
const lanes: Lane[] = [
  { ...sqliteLane, jobs: 4000, questions: 240 },
  // The emulator is quadratic on big graphs; a real server takes the full size.
  { ...mongoLane, jobs: mongoLane.emulated ? 300 : 4000, questions: mongoLane.emulated ? 60 : 240 },
];

const FILTERS: Array<{ text: string; test?: (job: Job) => boolean }> = [
  { text: '' },
  { text: 'type = "text.embed"', test: (job) => job.type === 'text.embed' },
  { text: 'labels.team = "a"', test: (job) => job.team === 'a' },
  { text: 'type = "dataset.ingest" AND labels.team = "b"', test: (job) => job.type === 'dataset.ingest' && job.team === 'b' },
  { text: 'status = SUCCEEDED', test: () => true },
];

interface Job {
  type: string;
  team: string;
}

interface Graph {
  parents: Map<string, string[]>;
  children: Map<string, string[]>;
  jobs: Map<string, Job>;
}

interface Question {
  root: string;
  ancestors: boolean;
  descendants: boolean;
  maxDepth: number;
  maxNodes: number;
  filter: (typeof FILTERS)[number];
  prune: boolean;
  maxChildren: number;
  maxParents: number;
}

interface Expected {
  /** id → [depth, relation], root excluded. */
  nodes: Map<string, [number, 'ANCESTOR' | 'DESCENDANT']>;
  edges: string[];
  /** id → [omitted children, omitted parents], root included, only nonzero. */
  omitted: Map<string, [number, number]>;
  reasons: string[];
}

/** Shortest depth of every job within maxDepth edges of root, following next; cut: some job lies beyond. */
function bfs(root: string, next: ReadonlyMap<string, readonly string[]>, maxDepth: number): { depths: Map<string, number>; cut: boolean } {
  const depths = new Map<string, number>();
  let frontier = [root];
  let cut = false;
  for (let depth = 1; frontier.length > 0; depth++) {
    const following: string[] = [];
    for (const id of frontier) {
      for (const neighbour of next.get(id) ?? []) {
        if (neighbour === root || depths.has(neighbour)) continue;
        if (depth > maxDepth) {
          cut = true;
          continue;
        }
        depths.set(neighbour, depth);
        following.push(neighbour);
      }
    }
    frontier = following;
  }
  return { depths, cut };
}

/** The answer the documented semantics give, computed from the graph alone. */
function expectedAnswer(graph: Graph, q: Question): Expected {
  const maxDepth = q.maxDepth === 0 ? Number.MAX_SAFE_INTEGER : q.maxDepth;
  const up = q.ancestors ? bfs(q.root, graph.parents, maxDepth) : { depths: new Map<string, number>(), cut: false };
  const down = q.descendants ? bfs(q.root, graph.children, maxDepth) : { depths: new Map<string, number>(), cut: false };
  const side = (id: string) => (id === q.root ? 'R' : up.depths.has(id) ? 'A' : down.depths.has(id) ? 'D' : undefined);
  const depth = (id: string) => (id === q.root ? 0 : (up.depths.get(id) ?? down.depths.get(id))!);
  const within = [q.root, ...up.depths.keys(), ...[...down.depths.keys()].filter((id) => !up.depths.has(id))];
  const matches = (id: string) => id === q.root || !q.filter.test || q.filter.test(graph.jobs.get(id)!);
  const lineageEdges = (members: ReadonlySet<string>) =>
    [...members].flatMap((child) => (graph.parents.get(child) ?? []).filter((p) => members.has(p)).map((p): [string, string] => [p, child]));

  // The filter.
  let answerNodes: Set<string>;
  let answerEdges: Array<[string, string]>;
  if (!q.filter.test) {
    answerNodes = new Set(within);
    answerEdges = lineageEdges(answerNodes);
  } else if (q.prune) {
    answerNodes = new Set([q.root]);
    const queue = [q.root];
    while (queue.length > 0) {
      const at = queue.shift()!;
      const next = [
        ...(side(at) !== 'A' ? (graph.children.get(at) ?? []).filter((c) => side(c) === 'D') : []),
        ...(side(at) !== 'D' ? (graph.parents.get(at) ?? []).filter((p) => side(p) === 'A') : []),
      ];
      for (const id of next) {
        if (answerNodes.has(id) || !matches(id)) continue;
        answerNodes.add(id);
        queue.push(id);
      }
    }
    answerEdges = lineageEdges(answerNodes);
  } else {
    answerNodes = new Set(within.filter(matches));
    answerEdges = [];
    for (const from of answerNodes) {
      const seen = new Set<string>([from]);
      const stack = [from];
      while (stack.length > 0) {
        for (const child of graph.children.get(stack.pop()!) ?? []) {
          if (seen.has(child) || side(child) === undefined) continue;
          seen.add(child);
          if (answerNodes.has(child)) answerEdges.push([from, child]);
          else stack.push(child);
        }
      }
    }
  }

  // The caps.
  const nearestFirst = (a: string, b: string) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0);
  const omitted = new Map<string, [number, number]>();
  let kept = answerNodes;
  let keptEdges = answerEdges;
  if (q.maxChildren > 0 || q.maxParents > 0) {
    const childrenInAnswer = new Map<string, string[]>();
    const parentsInAnswer = new Map<string, string[]>();
    for (const [p, c] of answerEdges) {
      childrenInAnswer.set(p, [...(childrenInAnswer.get(p) ?? []), c]);
      parentsInAnswer.set(c, [...(parentsInAnswer.get(c) ?? []), p]);
    }
    kept = new Set([q.root]);
    const walked = new Set<string>();
    const queue = [q.root];
    while (queue.length > 0) {
      const at = queue.shift()!;
      const children = side(at) === 'A' ? [] : (childrenInAnswer.get(at) ?? []).filter((c) => side(c) === 'D').sort(nearestFirst);
      const parents = side(at) === 'D' ? [] : (parentsInAnswer.get(at) ?? []).filter((p) => side(p) === 'A').sort(nearestFirst);
      const keptChildren = q.maxChildren > 0 ? children.slice(0, q.maxChildren) : children;
      const keptParents = q.maxParents > 0 ? parents.slice(0, q.maxParents) : parents;
      if (keptChildren.length < children.length || keptParents.length < parents.length) {
        omitted.set(at, [children.length - keptChildren.length, parents.length - keptParents.length]);
      }
      for (const c of keptChildren) walked.add(`${at}>${c}`);
      for (const p of keptParents) walked.add(`${p}>${at}`);
      for (const id of [...keptChildren, ...keptParents]) {
        if (kept.has(id)) continue;
        kept.add(id);
        queue.push(id);
      }
    }
    const capped = ([p, c]: [string, string]) => (side(p) !== 'A' && side(c) === 'D') || (side(c) !== 'D' && side(p) === 'A');
    keptEdges = answerEdges.filter(([p, c]) => kept.has(p) && kept.has(c) && (!capped([p, c]) || walked.has(`${p}>${c}`)));
  }

  // The node limit, nearest first (ancestors before descendants at a depth).
  const order = [...kept]
    .filter((id) => id !== q.root)
    .sort((a, b) => depth(a) - depth(b) || (side(a) === side(b) ? 0 : side(a) === 'A' ? -1 : 1) || (a < b ? -1 : a > b ? 1 : 0));
  const shown = q.maxNodes > 0 ? order.slice(0, q.maxNodes) : order;
  const shownSet = new Set([q.root, ...shown]);
  const reasons: string[] = [];
  if (up.cut || down.cut) reasons.push('MAX_DEPTH');
  if (shown.length < order.length) reasons.push('MAX_NODES');
  if (omitted.size > 0) reasons.push('FAN_OUT');
  return {
    nodes: new Map(shown.map((id) => [id, [depth(id), side(id) === 'A' ? 'ANCESTOR' : 'DESCENDANT']])),
    edges: keptEdges.filter(([p, c]) => shownSet.has(p) && shownSet.has(c)).map(([p, c]) => `${p}>${c}`).sort(),
    omitted: new Map([...omitted].filter(([id]) => shownSet.has(id))),
    reasons: reasons.sort(),
  };
}

function gotAnswer(answer: Pick<GetLineageResponse, 'root' | 'nodes' | 'edges' | 'truncationReasons'>): Expected {
  const omitted = new Map<string, [number, number]>();
  for (const node of [answer.root!, ...answer.nodes]) {
    if (node.omittedChildCount > 0 || node.omittedParentCount > 0) omitted.set(node.jobId, [node.omittedChildCount, node.omittedParentCount]);
  }
  return {
    nodes: new Map(answer.nodes.map((n) => [n.jobId, [n.depth, n.relation === 2 ? 'ANCESTOR' : 'DESCENDANT']])),
    edges: answer.edges.map((e) => `${e.parentJobId}>${e.childJobId}`).sort(),
    omitted,
    reasons: answer.truncationReasons.map((r) => TruncationReason[r].replace('TRUNCATION_REASON_', '')).sort(),
  };
}

for (const lane of lanes) {
  describe(`Lineage filters and fan-out caps on a random DAG equal an independent walk (${lane.name})`, function () {
    this.timeout(600_000);
    let server: ServerProcess;
    let api: ReturnType<typeof connect>;
    let dag: JobRecord[];
    const graph: Graph = { parents: new Map(), children: new Map(), jobs: new Map() };

    before(async () => {
      server = await lane.start();
      api = connect(server.address);
      dag = randomDag(lane.jobs, 20261205, { maxParents: 3, window: 60 });
      // Hubs: a few early jobs with many more children than the others, as one job with 50,000 children has.
      const random = mulberry32(16);
      const hubs = [3, Math.floor(lane.jobs / 3)];
      dag.forEach((job, index) => {
        const hub = hubs.find((h) => index > h + 1 && random() < 0.08 && !job.parentIds.includes(dag[h]!.jobId));
        if (hub !== undefined) job.parentIds = [...job.parentIds, dag[hub]!.jobId];
      });
      const requests = dag.map((job) => {
        const team = random() < 0.5 ? 'a' : 'b';
        graph.jobs.set(job.jobId, { type: job.type, team });
        graph.parents.set(job.jobId, job.parentIds);
        for (const parent of job.parentIds) graph.children.set(parent, [...(graph.children.get(parent) ?? []), job.jobId]);
        return { jobId: job.jobId, type: job.type, payload: job.payload, parentJobIds: job.parentIds, labels: { team }, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' };
      });
      for (let start = 0; start < requests.length; start += 1000) {
        const response = await api.batchRecordJobs({ requests: requests.slice(start, start + 1000) });
        expect(response.results.every((r) => r.status!.code === 0)).to.equal(true);
      }
    });
    after(async () => {
      api?.close();
      await server?.stop();
      await lane.dispose();
    });

    it(`matches for ${lane.questions} random questions: both modes, both directions, with caps, depths and node limits`, async () => {
      const random = mulberry32(35);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const seenReasons = new Set<string>();
      let streamed = 0;
      for (let i = 0; i < lane.questions; i++) {
        const direction = pick([LineageDirection.LINEAGE_DIRECTION_ANCESTORS, LineageDirection.LINEAGE_DIRECTION_DESCENDANTS, LineageDirection.LINEAGE_DIRECTION_BOTH]);
        const q: Question = {
          // Descendant walks from early jobs (many descendants), ancestor walks from late ones.
          root: pick(direction === LineageDirection.LINEAGE_DIRECTION_ANCESTORS ? dag.slice(-dag.length / 2) : dag.slice(0, dag.length / 2)).jobId,
          ancestors: direction !== LineageDirection.LINEAGE_DIRECTION_DESCENDANTS,
          descendants: direction !== LineageDirection.LINEAGE_DIRECTION_ANCESTORS,
          maxDepth: pick([0, 0, 2, 4]),
          maxNodes: pick([0, 0, 0, 25]),
          filter: pick(FILTERS),
          prune: random() < 0.5,
          maxChildren: pick([0, 1, 2, 5]),
          maxParents: pick([0, 1, 2]),
        };
        const request = {
          jobId: q.root,
          direction,
          maxDepth: q.maxDepth,
          maxNodes: q.maxNodes,
          filter: q.filter.text,
          filterMode: q.prune ? LineageFilterMode.LINEAGE_FILTER_MODE_PRUNE : pick([LineageFilterMode.LINEAGE_FILTER_MODE_UNSPECIFIED, LineageFilterMode.LINEAGE_FILTER_MODE_COLLAPSE]),
          maxChildrenPerNode: q.maxChildren,
          maxParentsPerNode: q.maxParents,
        };
        const expected = expectedAnswer(graph, q);
        const answer = await api.getLineage({ ...request, view: LineageView.LINEAGE_VIEW_IDS });
        const label = JSON.stringify({ ...q, filter: q.filter.text });
        expect(gotAnswer(answer), label).to.deep.equal(expected);
        for (const reason of expected.reasons) seenReasons.add(reason);
        // The compact view (through the TypeScript client) is the same answer.
        expect(gotAnswer(await api.getLineageGraph(request)), label).to.deep.equal(expected);
        if (i % 8 === 0 && q.maxNodes === 0) {
          const { maxNodes: _unlimited, ...streamRequest } = request;
          const messages: StreamLineageResponse[] = [];
          for await (const message of api.streamLineage(StreamLineageRequest.fromPartial({ ...streamRequest, maxMessageNodes: 7 }))) messages.push(message);
          const joined = { root: messages[0]!.root, nodes: messages.flatMap((m) => m.nodes), edges: messages.flatMap((m) => m.edges), truncationReasons: messages.at(-1)!.truncationReasons };
          expect(gotAnswer(joined), `stream ${label}`).to.deep.equal(expected);
          const exported = await api.exportProvenanceGraph({ jobId: q.root, direction, maxDepth: q.maxDepth, filter: request.filter, filterMode: request.filterMode, maxChildrenPerNode: q.maxChildren, maxParentsPerNode: q.maxParents });
          expect(new Set(exported.jobs.map((job) => job.jobId)), `export ${label}`).to.deep.equal(new Set([q.root, ...expected.nodes.keys()]));
          expect(new Map(exported.fanOutTruncations.map((t) => [t.jobId, [t.omittedChildCount, t.omittedParentCount]])), `export ${label}`).to.deep.equal(expected.omitted);
          streamed++;
        }
      }
      expect(streamed).to.be.greaterThan(0);
      // The questions reached every limit at least once.
      expect([...seenReasons].sort()).to.deep.equal(['FAN_OUT', 'MAX_DEPTH', 'MAX_NODES']);
    });
  });
}
