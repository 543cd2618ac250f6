import Database from 'better-sqlite3';
import { LineageView, ProvenanceClient } from '@provenance/client';
import type { BenchContext, Scenario } from '../support/context.js';
import { bareLineageStatement, DESCENDANTS, FULL_ANCESTORS, lineageCases, serviceLineage, type LineageCase } from '../support/lineage-cases.js';
import { MemoryGraph } from '../support/memory-graph.js';
import { measureBigCallWaits } from '../support/big-calls.js';
import { ClientProcesses, serveClientRoles } from '../support/client-processes.js';
import { GetJobProbe } from '../support/probe.js';
import { coreShare, cpuSeconds } from '../support/process-stats.js';
import { elapsedMs, percentile, tail, timeMs } from '../support/stats.js';

/**
 * Scenario 1: GetLineage through the generated client against a live server
 * on the graph's SQLite file, against two baselines in this process on the
 * same file: the bare recursive query, and a walk of the graph held in
 * memory (MemoryGraph). Each sample is asked of all three in turn, after a
 * warm-up, so that load from elsewhere falls on all alike; the client's and
 * the server's CPU while ours ran are printed beside the figure. The client
 * runs in a process of its own, which times each call: in this process its
 * garbage collection also traced the baselines' graphs (the in-memory walk's
 * and the generated one, 100,000 jobs each), which added about a
 * millisecond to a depth-10 lineage's p50 (docs/decisions.md, "A lineage
 * client of its own"). Then the
 * longest a GetJob waited beside each kind of big call (a probe in a process
 * of its own, apart from the timed samples so as not to slow them), and the
 * cost of a late page of transitive ListDependents against the first.
 */

/** The goals of one case in one view: shares of each baseline's speed, and a bound on ours' p50 in ms. */
interface Goals {
  bareQuery?: number;
  memoryWalk?: number;
  p50Ms?: number;
}

interface ViewCases {
  label: string;
  view: LineageView;
  /** The cases asked in this view, with their goals (issues #15 and #18, the stricter where they differ). */
  cases: Record<string, Goals>;
  /** Samples per case: sizes.lineageSamples, or the number of roots where a sample is costly. */
  samples: 'lineageSamples' | 'lineageRoots';
}

/** One line per view: another view is one more line here (and one more expected figure per case and baseline in test/e2e/bench-smoke.test.ts). */
const VIEWS: ViewCases[] = [
  {
    label: 'ids view',
    view: LineageView.LINEAGE_VIEW_IDS,
    cases: { [FULL_ANCESTORS]: { bareQuery: 1, memoryWalk: 0.5 }, 'ancestors, max_depth 10': { p50Ms: 5 }, [DESCENDANTS]: {} },
    samples: 'lineageSamples',
  },
  { label: 'compact view', view: LineageView.LINEAGE_VIEW_COMPACT, cases: { [FULL_ANCESTORS]: { bareQuery: 1 } }, samples: 'lineageSamples' },
  { label: 'full view (whole records)', view: LineageView.LINEAGE_VIEW_FULL, cases: { [FULL_ANCESTORS]: {} }, samples: 'lineageRoots' },
];

/** Room for the largest big call's answer: the PROV-JSON export of a whole ancestry (about 70,000 jobs) is about 69 MB. */
const MAX_MESSAGE_BYTES = 256 * 2 ** 20;

/** Big calls of each kind run beside the GetJob probe (bench/support/big-calls.ts). */
const PROBED_CALLS_PER_KIND = 3;

export const lineage: Scenario = {
  name: 'lineage',
  async run(context: BenchContext) {
    const path = await context.graphDatabase();
    const server = await context.startServer({ PROVENANCE_SQLITE_PATH: path, PROVENANCE_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });
    const client = new ProvenanceClient({ address: server.address, timeoutMs: 600_000, channelOptions: { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES } });
    const db = new Database(path, { readonly: true });
    const probe = await GetJobProbe.start();
    const lineageClient = await ClientProcesses.start(import.meta.url, LINEAGE_CLIENT_ROLE, [{ address: server.address } satisfies LineageClientSetup]);
    try {
      const memory = new MemoryGraph(db);
      const cases = lineageCases(context.sizes.graph, context.sizes.lineageRoots);
      for (const { label, view, cases: goals, samples } of VIEWS) {
        for (const lineageCase of cases.filter((c) => c.name in goals)) {
          const timings = await measureCase({ lineageClient, db, memory, serverPid: server.child.pid!, lineageCase, view, samples: context.sizes[samples] });
          reportCase(context, `${lineageCase.name}, ${label}`, timings, goals[lineageCase.name]!);
        }
      }
      const [ancestors, descendants] = [FULL_ANCESTORS, DESCENDANTS].map((name) => cases.find((c) => c.name === name)!) as [LineageCase, LineageCase];
      const targets = { address: server.address, httpAddress: server.httpAddress, maxMessageBytes: MAX_MESSAGE_BYTES, timeoutMs: 600_000, ancestors, descendants, probedJob: ancestors.roots[0]! };
      await measureBigCallWaits(context, 'lineage', '', probe, targets, PROBED_CALLS_PER_KIND);
      await measureDependentsPages(context, client, descendants);
    } finally {
      await lineageClient.close();
      await probe.close();
      db.close();
      client.close();
      await context.stop(server);
    }
  },
};

interface CaseTimings {
  ours: number[];
  bareQuery: number[];
  memoryWalk: number[];
  nodes: number[];
  /** CPU seconds of this process (the client) and of the server over ours' calls, and ours' total seconds. */
  clientCpu: number;
  serverCpu: number;
  oursSeconds: number;
}

function reportCase(context: BenchContext, name: string, t: CaseTimings, goals: Goals): void {
  const [oursTail, bareTail, walkTail] = [tail(t.ours), tail(t.bareQuery), tail(t.memoryWalk)];
  const common = {
    scenario: 'lineage',
    unit: 'ms',
    ours: percentile(t.ours, 0.5),
    better: 'lower' as const,
    notes: {
      samples: t.ours.length,
      [`ours ${oursTail.label}`]: oursTail.value,
      'nodes p50': percentile(t.nodes, 0.5),
      'CPU of server': coreShare(t.serverCpu, t.oursSeconds),
      'of the client (its own process)': coreShare(t.clientCpu, t.oursSeconds),
    },
  };
  context.report({
    ...common,
    name: `${name}, p50, against the bare query`,
    baseline: percentile(t.bareQuery, 0.5),
    ...(goals.bareQuery === undefined ? {} : { budget: goals.bareQuery }),
    notes: { ...common.notes, [`bare query ${bareTail.label}`]: bareTail.value },
  });
  context.report({
    ...common,
    name: `${name}, p50, against an in-memory walk`,
    baseline: percentile(t.memoryWalk, 0.5),
    ...(goals.memoryWalk === undefined ? {} : { budget: goals.memoryWalk }),
    notes: { ...common.notes, [`walk ${walkTail.label}`]: walkTail.value },
  });
  if (goals.p50Ms !== undefined) {
    context.report({ scenario: 'lineage', name: `${name}, p50 end to end`, unit: 'ms', value: percentile(t.ours, 0.5), limit: { max: goals.p50Ms }, notes: common.notes });
  }
}

interface CaseTask {
  lineageClient: ClientProcesses;
  db: Database.Database;
  memory: MemoryGraph;
  serverPid: number;
  lineageCase: LineageCase;
  view: LineageView;
  samples: number;
}

async function measureCase({ lineageClient, db, memory, serverPid, lineageCase, view, samples }: CaseTask): Promise<CaseTimings> {
  const bare = bareLineageStatement(db, lineageCase);
  const walk = memory.walker(lineageCase);
  const ours = async (root: string) => (await lineageClient.all<TimedLineage>('lineage', () => ({ lineageCase, root, view }) satisfies LineageAsked))[0]!;
  for (const root of lineageCase.roots.slice(0, 2)) {
    await ours(root);
    bare(root);
    walk(root);
  }
  const t: CaseTimings = { ours: [], bareQuery: [], memoryWalk: [], nodes: [], clientCpu: 0, serverCpu: 0, oursSeconds: 0 };
  for (let sample = 0; sample < Math.max(samples, lineageCase.roots.length); sample++) {
    const root = lineageCase.roots[sample % lineageCase.roots.length]!;
    const serverCpuStart = cpuSeconds(serverPid);
    const { result, cpuSeconds: clientCpu } = await ours(root);
    const { ms, nodes: ourNodes } = result;
    t.serverCpu += cpuSeconds(serverPid) - serverCpuStart;
    t.clientCpu += clientCpu;
    t.oursSeconds += ms / 1000;
    t.ours.push(ms);
    let bareNodes = 0;
    let walkNodes = 0;
    t.bareQuery.push(await timeMs(() => (bareNodes = bare(root))));
    t.memoryWalk.push(await timeMs(() => (walkNodes = walk(root).length)));
    if (ourNodes !== bareNodes || walkNodes !== bareNodes) {
      throw new Error(`${lineageCase.name} of ${root}: the service found ${ourNodes} jobs, the bare query ${bareNodes}, the walk ${walkNodes}`);
    }
    t.nodes.push(ourNodes);
  }
  return t;
}

/** The page of 100 whose cost is compared with the first's (issue #15: "the 50th page of 100 within 2× the cost of the first"). */
const DEPENDENTS_PAGE = 50;
const DEPENDENTS_PAGE_SIZE = 100;

/**
 * Transitive ListDependents of early jobs (thousands of descendants), a page
 * of 100 at a time: the first page, which walks, against the 50th (on a
 * graph too small for 50 pages, the last full page every timed root has),
 * asked right after the 49th of the same sequence with the token the 49th
 * gave, so that the walk the first page kept (dependents-snapshots.ts) is
 * still there: the 50th page costs a page, not a walk. A ratio of times, not
 * a timed test.
 */
async function measureDependentsPages(context: BenchContext, client: ProvenanceClient, descendants: LineageCase): Promise<void> {
  const list = (jobId: string, pageToken = '') => client.listDependents({ jobId, transitive: true, pageSize: DEPENDENTS_PAGE_SIZE, pageToken });
  // How many pages each root has, up to the 50th, from one sequence per root that also warms the server up.
  const pages = new Map<string, number>();
  for (const root of descendants.roots) {
    let count = 1;
    for (let page = await list(root); page.nextPageToken && count < DEPENDENTS_PAGE; count++) page = await list(root, page.nextPageToken);
    pages.set(root, count);
  }
  // Some early jobs of the random graph have few descendants (a job with no children has none): the roots timed are those with the most pages.
  const pageNumber = Math.max(...pages.values());
  if (pageNumber < 2) throw new Error(`no root has more than ${DEPENDENTS_PAGE_SIZE} dependents: the graph is too small`);
  const timedRoots = descendants.roots.filter((root) => pages.get(root) === pageNumber);
  const first: number[] = [];
  const later: number[] = [];
  for (const root of timedRoots) {
    let page!: Awaited<ReturnType<typeof list>>;
    first.push(await timeMs(async () => (page = await list(root))));
    for (let number = 2; number < pageNumber; number++) page = await list(root, page.nextPageToken);
    const token = page.nextPageToken;
    later.push(await timeMs(() => list(root, token)));
  }
  const [laterTail, firstTail] = [tail(later), tail(first)];
  context.report({
    scenario: 'lineage',
    name: `transitive ListDependents: page ${pageNumber} of ${DEPENDENTS_PAGE_SIZE} vs the first, p50`,
    unit: 'ms',
    ours: percentile(later, 0.5),
    baseline: percentile(first, 0.5),
    better: 'lower',
    // "the 50th page of 100 within 2× the cost of the first"
    budget: 0.5,
    notes: { [`page ${laterTail.label}`]: laterTail.value, [`first page ${firstTail.label}`]: firstTail.value, roots: `${timedRoots.length} of ${descendants.roots.length}` },
  });
}

const LINEAGE_CLIENT_ROLE = 'lineage-client';

interface LineageClientSetup {
  address: string;
}

interface LineageAsked {
  lineageCase: LineageCase;
  root: string;
  view: LineageView;
}

/** One of ours' samples, timed in the client's process: the call's milliseconds and the nodes it answered. */
interface TimedLineage {
  ms: number;
  nodes: number;
}

serveClientRoles(import.meta.url, {
  [LINEAGE_CLIENT_ROLE]: async ({ address }: LineageClientSetup) => {
    const client = new ProvenanceClient({ address, timeoutMs: 600_000, channelOptions: { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES } });
    return {
      async lineage({ lineageCase, root, view }: LineageAsked): Promise<TimedLineage> {
        const start = process.hrtime.bigint();
        const nodes = await serviceLineage(client, lineageCase, root, view);
        return { ms: elapsedMs(start), nodes };
      },
    };
  },
});
