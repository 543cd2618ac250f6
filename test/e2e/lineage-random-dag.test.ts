import { expect } from 'chai';
import type { JobRecord } from '../../src/domain/job.js';
import { JobStatus } from '@provenance/client';
import { LineageDirection, LineageView } from '@provenance/client';
import { connect } from '../support/grpc-client.js';
import { mulberry32, randomDag } from '../support/job-records.js';
import type { ServerProcess } from '../support/server-process.js';
import { storeLanes, type StoreLane } from '../support/store-lanes.js';

/**
 * GetLineage on a seeded random DAG, checked answer by answer against a
 * breadth-first search written here, independently of the service; the
 * compact view, read through the TypeScript client, against the IDS view.
 */

const LIMITS = { PROVENANCE_MAX_LINEAGE_DEPTH: '10000', PROVENANCE_MAX_LINEAGE_NODES: '1000000' };

interface Lane extends StoreLane {
  jobs: number;
  roots: number;
}

const [sqliteLane, mongoLane] = storeLanes('provenance-dag-', LIMITS);
const lanes: Lane[] = [
  { ...sqliteLane, jobs: 10_000, roots: 25 },
  // The emulator is quadratic on big graphs; a real server takes the full size.
  { ...mongoLane, jobs: mongoLane.emulated ? 300 : 10_000, roots: mongoLane.emulated ? 8 : 25 },
];

/** Shortest depth of every job within maxDepth edges of root, following next. */
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

for (const lane of lanes) {
  describe(`GetLineage on a random DAG equals an independent BFS (${lane.name})`, function () {
    this.timeout(300_000);
    let server: ServerProcess;
    let api: ReturnType<typeof connect>;
    let dag: JobRecord[];
    const parents = new Map<string, string[]>();
    const children = new Map<string, string[]>();

    before(async () => {
      server = await lane.start();
      api = connect(server.address);
      dag = randomDag(lane.jobs, 20261126, { maxParents: 3, window: 200 });
      for (const job of dag) {
        parents.set(job.jobId, job.parentIds);
        for (const parent of job.parentIds) children.set(parent, [...(children.get(parent) ?? []), job.jobId]);
      }
      for (let start = 0; start < dag.length; start += 1000) {
        const response = await api.batchRecordJobs({
          requests: dag.slice(start, start + 1000).map((job) => ({
            jobId: job.jobId,
            type: job.type,
            payload: job.payload,
            parentJobIds: job.parentIds,
            status: JobStatus.JOB_STATUS_SUCCEEDED,
            outputHash: job.result!.outputHash,
          })),
        });
        expect(response.results.every((r) => r.status!.code === 0)).to.equal(true);
      }
    });
    after(async () => {
      api?.close();
      await server?.stop();
      await lane.dispose();
    });

    it(`matches for ${lane.roots} roots, both directions, with and without max_depth`, async () => {
      const random = mulberry32(7);
      let compared = 0;
      for (let r = 0; r < lane.roots; r++) {
        const root = dag[Math.floor(random() * dag.length)]!.jobId;
        for (const [direction, next] of [
          [LineageDirection.LINEAGE_DIRECTION_ANCESTORS, parents],
          [LineageDirection.LINEAGE_DIRECTION_DESCENDANTS, children],
        ] as const) {
          for (const maxDepth of [0, 1, 3, 10]) {
            const expected = bfs(root, next, maxDepth === 0 ? Number.MAX_SAFE_INTEGER : maxDepth);
            const answer = await api.getLineage({ jobId: root, direction, maxDepth, view: LineageView.LINEAGE_VIEW_IDS });
            const got = new Map(answer.nodes.map((n) => [n.jobId, n.depth]));
            expect(got, `${root} ${LineageDirection[direction]} max_depth ${maxDepth}`).to.deep.equal(expected.depths);
            expect(answer.truncated).to.equal(expected.cut);
            const present = new Set([root, ...got.keys()]);
            const expectedEdges = [...present].flatMap((child) => (parents.get(child) ?? []).filter((p) => present.has(p)).map((p) => `${p}>${child}`));
            expect(answer.edges.map((e) => `${e.parentJobId}>${e.childJobId}`)).to.have.members(expectedEdges);
            // The compact view, as the client reads it, is the same graph.
            const graph = await api.getLineageGraph({ jobId: root, direction, maxDepth });
            expect([graph.root, graph.nodes, graph.edges, graph.truncationReasons]).to.deep.equal([answer.root, answer.nodes, answer.edges, answer.truncationReasons]);
            compared++;
          }
        }
      }
      expect(compared).to.equal(lane.roots * 8);
    });
  });
}
