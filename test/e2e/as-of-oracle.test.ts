import { expect } from 'chai';
import { CacheState, JobStatus, LineageDirection, LineageRelation, LineageView } from '@provenance/client';
import { connect, type Client } from '../support/grpc-client.js';
import { mulberry32 } from '../support/job-records.js';
import type { ServerProcess } from '../support/server-process.js';
import { storeLanes, type StoreLane } from '../support/store-lanes.js';

/**
 * The oracle for "as of a time" (issue #16 item 1): a seeded random history
 * of creations, status changes and cache invalidations, made through the
 * gRPC API of a server process, with the times each step happened between
 * (read from the clock the server shares); then, at 50 random times between
 * steps, GetLineage as of that time (both directions, from random roots)
 * equals the lineage computed here from the recorded history by a walk of
 * its own, node by node: depth, relation, status and cache state. A root
 * created after the time is NOT_FOUND.
 */

interface Lane extends StoreLane {
  steps: number;
}

const [sqliteLane, mongoLane] = storeLanes('provenance-as-of-');
const lanes: Lane[] = [
  { ...sqliteLane, steps: 160 },
  { ...mongoLane, steps: 100 },
];

type Status = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
interface ModelJob {
  parents: string[];
  status: Status;
  cacheState: 'NONE' | 'FRESH' | 'STALE';
}
/** The jobs after a step, and the times the step happened between (ms). */
interface Snapshot {
  jobs: Map<string, ModelJob>;
  startedAt: number;
  endedAt: number;
}

const QUERY_TIMES = 50;
const ROOTS_PER_TIME = 3;

/** Shortest depth of every job reachable from root through next, among the jobs of the snapshot. */
function walk(root: string, next: (id: string) => readonly string[]): Map<string, number> {
  const depths = new Map<string, number>();
  let frontier = [root];
  for (let depth = 1; frontier.length > 0; depth++) {
    const following: string[] = [];
    for (const id of frontier) {
      for (const neighbour of next(id)) {
        if (neighbour === root || depths.has(neighbour)) continue;
        depths.set(neighbour, depth);
        following.push(neighbour);
      }
    }
    frontier = following;
  }
  return depths;
}

/** The lineage the snapshot says root had: "jobId relation depth status cacheState" lines, sorted. */
function expectedLineage(snapshot: Snapshot, root: string): string[] {
  const { jobs } = snapshot;
  const children = new Map<string, string[]>();
  for (const [id, job] of jobs) for (const parent of job.parents) children.set(parent, [...(children.get(parent) ?? []), id]);
  const line = (id: string, relation: string, depth: number) => `${id} ${relation} ${depth} ${jobs.get(id)!.status} ${jobs.get(id)!.cacheState}`;
  return [
    line(root, 'ROOT', 0),
    ...[...walk(root, (id) => jobs.get(id)!.parents)].map(([id, depth]) => line(id, 'ANCESTOR', depth)),
    ...[...walk(root, (id) => children.get(id) ?? [])].map(([id, depth]) => line(id, 'DESCENDANT', depth)),
  ].sort();
}

function copyJobs(jobs: ReadonlyMap<string, ModelJob>): Map<string, ModelJob> {
  return new Map([...jobs].map(([id, job]) => [id, { ...job }]));
}

const STATUS_NAMES: Record<number, string> = {
  [JobStatus.JOB_STATUS_QUEUED]: 'QUEUED',
  [JobStatus.JOB_STATUS_RUNNING]: 'RUNNING',
  [JobStatus.JOB_STATUS_SUCCEEDED]: 'SUCCEEDED',
  [JobStatus.JOB_STATUS_FAILED]: 'FAILED',
};
const CACHE_NAMES: Record<number, string> = {
  [CacheState.CACHE_STATE_NONE]: 'NONE',
  [CacheState.CACHE_STATE_FRESH]: 'FRESH',
  [CacheState.CACHE_STATE_STALE]: 'STALE',
};
const RELATION_NAMES: Record<number, string> = {
  [LineageRelation.LINEAGE_RELATION_ROOT]: 'ROOT',
  [LineageRelation.LINEAGE_RELATION_ANCESTOR]: 'ANCESTOR',
  [LineageRelation.LINEAGE_RELATION_DESCENDANT]: 'DESCENDANT',
};
const PROTO_STATUS: Record<Status, JobStatus> = {
  QUEUED: JobStatus.JOB_STATUS_QUEUED,
  RUNNING: JobStatus.JOB_STATUS_RUNNING,
  SUCCEEDED: JobStatus.JOB_STATUS_SUCCEEDED,
  FAILED: JobStatus.JOB_STATUS_FAILED,
};

/** Waits until the clock has moved past ms. */
async function clockPast(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setTimeout(resolve, 1));
}

for (const lane of lanes) {
  describe(`GetLineage as of a time equals the lineage of the recorded history (${lane.name})`, function () {
    this.timeout(600_000);
    let server: ServerProcess;
    let api: Client;
    const snapshots: Snapshot[] = [];
    const stepsOfKind = { created: 0, changed: 0, invalidated: 0 };
    let beforeAll = 0;

    async function record(id: string, job: ModelJob, step: number): Promise<void> {
      await api.recordJob({
        jobId: id,
        type: 'as-of.step',
        payload: { id },
        parentJobIds: job.parents,
        status: PROTO_STATUS[job.status],
        ...(job.status === 'SUCCEEDED' ? { outputHash: `out-${id}` } : {}),
        ...(job.status === 'FAILED' ? { error: { reason: 'BROKEN', message: `failed at step ${step}` } } : {}),
      });
    }

    before(async () => {
      server = await lane.start();
      api = connect(server.address);
      const random = mulberry32(20261205);
      const jobs = new Map<string, ModelJob>();
      const children = (id: string) => [...jobs].filter(([, job]) => job.parents.includes(id)).map(([child]) => child);
      beforeAll = Date.now();
      await clockPast(beforeAll);
      for (let step = 0; step < lane.steps; step++) {
        const startedAt = Date.now();
        const ids = [...jobs.keys()];
        const live = ids.filter((id) => jobs.get(id)!.status === 'QUEUED' || jobs.get(id)!.status === 'RUNNING');
        const results = ids.filter((id) => jobs.get(id)!.status === 'SUCCEEDED');
        // One owner records every job: a result recorded on a STALE parent is STALE (docs/decisions.md, "Results built on stale ones").
        const resultState = (status: Status, parents: readonly string[]): ModelJob['cacheState'] =>
          status !== 'SUCCEEDED' ? 'NONE' : parents.some((parent) => jobs.get(parent)!.cacheState === 'STALE') ? 'STALE' : 'FRESH';
        // The job and every descendant with a result become STALE.
        const staleWithDescendants = (id: string) => {
          for (const reachedId of [id, ...walk(id, children).keys()]) {
            const job = jobs.get(reachedId)!;
            if (job.status === 'SUCCEEDED') jobs.set(reachedId, { ...job, cacheState: 'STALE' });
          }
        };
        const choice = random();
        if (ids.length < 5 || choice < 0.45) {
          const id = `job-${String(step).padStart(4, '0')}`;
          const parentCount = Math.min(ids.length, Math.floor(random() * 4));
          const parents = new Set<string>();
          while (parents.size < parentCount) parents.add(ids[Math.max(0, ids.length - 1 - Math.floor(random() * 30))]!);
          const status = (['QUEUED', 'RUNNING', 'SUCCEEDED'] as const)[Math.floor(random() * 3)]!;
          const job: ModelJob = { parents: [...parents], status, cacheState: resultState(status, [...parents]) };
          await record(id, job, step);
          jobs.set(id, job);
          stepsOfKind.created++;
        } else if (live.length > 0 && choice < 0.8) {
          const id = live[Math.floor(random() * live.length)]!;
          const job = jobs.get(id)!;
          const status: Status = job.status === 'QUEUED' && random() < 0.5 ? 'RUNNING' : random() < 0.75 ? 'SUCCEEDED' : 'FAILED';
          const changed: ModelJob = { ...job, status, cacheState: resultState(status, job.parents) };
          await record(id, changed, step);
          jobs.set(id, changed);
          // Made STALE so, it takes what was recorded on it while it ran with it, as an invalidation of it would.
          if (changed.cacheState === 'STALE') staleWithDescendants(id);
          stepsOfKind.changed++;
        } else if (results.length > 0) {
          const id = results[Math.floor(random() * results.length)]!;
          await api.invalidateCache({ jobId: id });
          staleWithDescendants(id);
          stepsOfKind.invalidated++;
        } else {
          step--;
          continue;
        }
        const endedAt = Date.now();
        snapshots.push({ jobs: copyJobs(jobs), startedAt, endedAt });
        // A millisecond that belongs to no step, for the queries.
        await clockPast(endedAt + 1);
      }
    });
    after(async () => {
      api?.close();
      await server?.stop();
      await lane.dispose();
    });

    it(`matches at ${QUERY_TIMES} random times, ${ROOTS_PER_TIME} roots each, both directions`, async () => {
      // The history holds every kind of change, many times.
      for (const [kind, count] of Object.entries(stepsOfKind)) expect(count, kind).to.be.greaterThan(lane.steps / 10);
      const random = mulberry32(7);
      let compared = 0;
      let staleSeen = 0;
      let notFound = 0;
      for (let t = 0; t < QUERY_TIMES; t++) {
        // Strictly between the end of a step and the start of the next (the clock moved past the end before the next began).
        const index = Math.floor(random() * snapshots.length);
        const snapshot = snapshots[index]!;
        const asOf = new Date(snapshot.endedAt + (index + 1 < snapshots.length ? Math.floor((snapshots[index + 1]!.startedAt - snapshot.endedAt) / 2) : 1));
        expect(asOf.getTime(), 'a time between two steps').to.be.greaterThan(snapshot.endedAt);
        if (index + 1 < snapshots.length) expect(asOf.getTime()).to.be.lessThan(snapshots[index + 1]!.startedAt);
        const ids = [...snapshot.jobs.keys()];
        for (let r = 0; r < ROOTS_PER_TIME; r++) {
          const root = ids[Math.floor(random() * ids.length)]!;
          const answer = await api.getLineage({ jobId: root, direction: LineageDirection.LINEAGE_DIRECTION_BOTH, view: LineageView.LINEAGE_VIEW_BASIC, asOf });
          const got = [answer.root!, ...answer.nodes]
            .map((node) => `${node.jobId} ${RELATION_NAMES[node.relation]} ${node.depth} ${STATUS_NAMES[node.status]} ${CACHE_NAMES[node.cacheState]}`)
            .sort();
          expect(got, `lineage of ${root} as of ${asOf.toISOString()} (after step ${index})`).to.deep.equal(expectedLineage(snapshot, root));
          staleSeen += got.filter((line) => line.endsWith(' STALE')).length;
          const job = await api.getJob({ jobId: root, asOf });
          expect([STATUS_NAMES[job.status], CACHE_NAMES[job.cacheState]]).to.deep.equal([snapshot.jobs.get(root)!.status, snapshot.jobs.get(root)!.cacheState]);
          compared++;
        }
        // A job created after the time is no root then.
        const later = [...snapshots[snapshots.length - 1]!.jobs.keys()].find((id) => !snapshot.jobs.has(id));
        if (later) {
          const error = await api.getLineage({ jobId: later, asOf }).then(
            () => undefined,
            (e: { code?: number }) => e,
          );
          expect(error?.code, `${later} as of ${asOf.toISOString()}`).to.equal(5);
          notFound++;
        }
      }
      // Before the first step, no job existed.
      const first = [...snapshots[0]!.jobs.keys()][0]!;
      const before = await api.getJob({ jobId: first, asOf: new Date(beforeAll) }).then(
        () => undefined,
        (e: { code?: number }) => e,
      );
      expect(before?.code).to.equal(5);
      expect(compared).to.equal(QUERY_TIMES * ROOTS_PER_TIME);
      expect(notFound).to.be.greaterThan(0);
      expect(staleSeen).to.be.greaterThan(0);
    });
  });
}
