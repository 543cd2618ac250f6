import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { BenchContext, Scenario } from '../support/context.js';
import { formatNumber } from '../support/figures.js';
import { BigCaller, IDS_LINEAGE, measureBigCallWaits, type BigCallTargets } from '../support/big-calls.js';
import { bareLineageStatement, DESCENDANTS, FULL_ANCESTORS, lineageCases } from '../support/lineage-cases.js';
import { GetJobProbe, PROBE_WAIT_LIMIT_MS, type ProbeResult } from '../support/probe.js';
import { rssMiB } from '../support/process-stats.js';
import { elapsedMs, percentile, timeMs } from '../support/stats.js';

/**
 * Scenario 6 (issues #15 and #18): how the costs grow with the graph, on
 * the same seeded graph at each size of sizes.growth (up to 1,000,000 with
 * --growth-sizes), each recorded through BatchRecordJobs and served by a
 * fresh server. Per size: the load rate; start-up to ready; the first
 * whole-ancestry lineage after start (cold: it may have to load the graph)
 * and the longest a GetJob waited meanwhile (a probe in a process of its
 * own, started the moment the server serves); later lineages' p50 against
 * the bare query, and the longest GetJob wait during them; the server's RSS
 * per job (above that of a server on an empty store); bytes on disk per job.
 * At the largest size, also the longest GetJob wait beside each kind of big
 * call (bench/support/big-calls.ts), one call of each.
 */

/** Warm lineages run beside the probe, at each size. */
const PROBED_LINEAGES = 3;
/** Room for the whole ancestry of a late job at 1,000,000 jobs (about 750,000 nodes, ids view) in one answer. */
const MAX_MESSAGE_BYTES = 1024 * 2 ** 20;
/** Whole lineages at 1,000,000 jobs, in the full view or over REST, take tens of seconds on a loaded machine. */
const BIG_CALL_TIMEOUT_MS = 600_000;
/** The job every probe call reads: the graph's first, present at every size. */
const PROBED_JOB = 'g000000';

export const growth: Scenario = {
  name: 'growth',
  async run(context: BenchContext) {
    const rows: string[][] = [];
    const probe = await GetJobProbe.start();
    // The lineages are asked from a process of their own: decoding a whole ancestry takes a client seconds, during which the bench process would not read the server's log pipe, and the server's logger waits for a full pipe to drain (support/big-calls.ts).
    const caller = await BigCaller.start({ maxMessageBytes: MAX_MESSAGE_BYTES, timeoutMs: BIG_CALL_TIMEOUT_MS });
    try {
      const emptyRssMiB = await emptyServerRss(context);
      for (const size of context.sizes.growth) {
        const path = await context.graphDatabase(size);
        const loadSeconds = context.graphLoadTime(size);
        const serverEnv = {
          PROVENANCE_SQLITE_PATH: path,
          PROVENANCE_MAX_LINEAGE_NODES: String(size),
          PROVENANCE_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
          PROVENANCE_REST_TIMEOUT_MS: String(BIG_CALL_TIMEOUT_MS),
        };
        const startupStart = process.hrtime.bigint();
        const server = await context.startServer(serverEnv);
        const startupMs = elapsedMs(startupStart);
        const db = new Database(path, { readonly: true });
        try {
          const cases = lineageCases(size, context.sizes.lineageRoots);
          const ancestors = cases.find((c) => c.name === FULL_ANCESTORS)!;
          const descendants = cases.find((c) => c.name === DESCENDANTS)!;
          const targets: BigCallTargets = { address: server.address, httpAddress: server.httpAddress, maxMessageBytes: MAX_MESSAGE_BYTES, timeoutMs: BIG_CALL_TIMEOUT_MS, ancestors, descendants, probedJob: PROBED_JOB };
          const serviceLineage = (root: string) => caller.call(targets, IDS_LINEAGE, root);
          const [firstRoot, ...laterRoots] = ancestors.roots;
          let firstNodes = 0;
          const cold = await probe.during(server.address, PROBED_JOB, () => timeMs(async () => (firstNodes = await serviceLineage(firstRoot!))), { cold: true });
          const bare = bareLineageStatement(db, ancestors);
          const ours: number[] = [];
          const baseline: number[] = [];
          const nodes: number[] = [];
          for (const root of laterRoots.length > 0 ? laterRoots : [firstRoot!]) {
            ours.push(await timeMs(async () => nodes.push(await serviceLineage(root))));
            baseline.push(await timeMs(() => bare(root)));
          }
          const warm = await probe.during(server.address, PROBED_JOB, async () => {
            for (const root of ancestors.roots.slice(0, PROBED_LINEAGES)) await serviceLineage(root);
          });
          const rss = rssMiB(server.child.pid!);
          const diskBytes = [path, `${path}-wal`].filter(existsSync).reduce((sum, file) => sum + statSync(file).size, 0);
          const figures = reportSize(context, size, {
            loadSeconds,
            startupMs,
            firstMs: cold.value,
            firstNodes,
            coldProbe: cold.probe,
            laterP50: percentile(ours, 0.5),
            bareP50: percentile(baseline, 0.5),
            laterNodes: percentile(nodes, 0.5),
            warmProbe: warm.probe,
            rssBytesPerJob: ((rss - emptyRssMiB) * 2 ** 20) / size,
            rssMiB: rss,
            diskBytesPerJob: diskBytes / size,
          });
          rows.push([size.toLocaleString('en-US'), ...figures.map(formatNumber)]);
          // After the size's other figures: the full views and exports below raise the server's RSS.
          if (size === Math.max(...context.sizes.growth)) {
            await measureBigCallWaits(context, 'growth', `${size.toLocaleString('en-US')} jobs: `, probe, targets, 1);
          }
        } finally {
          db.close();
          await context.stop(server);
        }
      }
    } finally {
      await caller.close();
      await probe.close();
    }
    context.note(
      table(
        ['jobs', 'load records/s', 'start-up ms', 'first lineage ms', 'longest GetJob wait, cold, ms', 'later lineage p50 ms', 'bare query p50 ms', 'longest GetJob wait, warm, ms', 'RSS bytes/job', 'disk bytes/job'],
        rows,
      ),
    );
  },
};

interface SizeFigures {
  loadSeconds: number;
  startupMs: number;
  firstMs: number;
  firstNodes: number;
  coldProbe: ProbeResult;
  laterP50: number;
  bareP50: number;
  laterNodes: number;
  warmProbe: ProbeResult;
  rssBytesPerJob: number;
  rssMiB: number;
  diskBytesPerJob: number;
}

/** Reports the figures of one size; answers the values of the table's row. */
function reportSize(context: BenchContext, size: number, f: SizeFigures): number[] {
  const jobs = `${size.toLocaleString('en-US')} jobs`;
  const report = (name: string, unit: string, value: number, extra: { limit?: { max: number }; notes?: Record<string, number | string> } = {}) =>
    context.report({ scenario: 'growth', name: `${jobs}: ${name}`, unit, value, ...extra });
  const probeNotes = (p: ProbeResult) => ({ 'probe calls': p.calls, 'probe p50 ms': p.p50Ms });
  report('load rate through BatchRecordJobs', 'records/s', size / f.loadSeconds, { notes: { seconds: f.loadSeconds } });
  report('start-up to ready', 'ms', f.startupMs);
  report(`first ${FULL_ANCESTORS} lineage after start, ids view`, 'ms', f.firstMs, { notes: { nodes: f.firstNodes } });
  report('longest GetJob wait from ready through the first lineage', 'ms', f.coldProbe.longestMs, { limit: { max: PROBE_WAIT_LIMIT_MS }, notes: probeNotes(f.coldProbe) });
  report(`later ${FULL_ANCESTORS} lineages, ids view, p50`, 'ms', f.laterP50, { notes: { 'bare query p50 ms': f.bareP50, 'nodes p50': f.laterNodes } });
  report(`longest GetJob wait during later ${FULL_ANCESTORS} lineages`, 'ms', f.warmProbe.longestMs, { limit: { max: PROBE_WAIT_LIMIT_MS }, notes: probeNotes(f.warmProbe) });
  report('server RSS per job, above a server on an empty store', 'bytes/job', f.rssBytesPerJob, { notes: { 'server RSS MiB': f.rssMiB } });
  report('bytes on disk per job (SQLite file and its WAL)', 'bytes/job', f.diskBytesPerJob);
  return [size / f.loadSeconds, f.startupMs, f.firstMs, f.coldProbe.longestMs, f.laterP50, f.bareP50, f.warmProbe.longestMs, f.rssBytesPerJob, f.diskBytesPerJob];
}

/** The RSS of a server on an empty store once it serves, in MiB: what the per-job figure is counted above. */
async function emptyServerRss(context: BenchContext): Promise<number> {
  const server = await context.startServer();
  try {
    return rssMiB(server.child.pid!);
  } finally {
    await context.stop(server);
  }
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
