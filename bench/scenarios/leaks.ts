import { ProvenanceClient } from '@provenance/client';
import type { ServerProcess } from '../../test/support/server-process.js';
import { until } from '../../test/support/waits.js';
import type { BenchContext, Scenario } from '../support/context.js';
import { formatNumber } from '../support/figures.js';
import { heapProbeNodeOptions, parseHeapReading, type HeapReading } from '../support/heap-probe.js';
import { lineageCases, serviceLineage } from '../support/lineage-cases.js';
import { openHandles } from '../support/process-stats.js';
import { linearFit, runInFlight } from '../support/stats.js';

const LINEAGE_CALLS_IN_FLIGHT = 8;
const MiB = 2 ** 20;

/**
 * Scenario 7: whether the server keeps memory or handles after many
 * WatchEvents subscribe/cancel cycles and many lineage calls (10 deep, ids
 * view, on the graph). The work is split into sizes.leakRounds rounds; after
 * each, the server forces full garbage collections and reports its heap used
 * and RSS (heap-probe.ts, loaded into the server), and its open file
 * descriptors are counted from /proc. The first round is a warm-up (what the
 * first calls allocate for good: caches, JIT code, pools); a straight line is
 * fitted through the readings of the others, and a figure fails on the
 * growth that line shows over the measured rounds, not on one reading.
 */

/** The most each may grow over the measured rounds, on the fitted line: heap used after collection and RSS as a share of their first reading; descriptors in number. */
const HEAP_GROWTH_LIMIT_PERCENT = 2;
const RSS_GROWTH_LIMIT_PERCENT = 5;
const HANDLE_GROWTH_LIMIT = 0.5;

export const leaks: Scenario = {
  name: 'leaks',
  async run(context: BenchContext) {
    const path = await context.graphDatabase();
    const server = await context.startServer({ PROVENANCE_SQLITE_PATH: path }, heapProbeNodeOptions());
    const client = new ProvenanceClient({ address: server.address, timeoutMs: 60_000 });
    const [, tenDeep] = lineageCases(context.sizes.graph, context.sizes.lineageRoots);
    const { leakSubscribeCycles, leakLineageCalls, leakRounds } = context.sizes;
    const cycles = Math.ceil(leakSubscribeCycles / leakRounds);
    const calls = Math.ceil(leakLineageCalls / leakRounds);
    const work = async () => {
      for (let i = 0; i < cycles; i++) {
        const watch = client.watchEvents({});
        await watch.subscribed();
        watch.close();
      }
      await runInFlight(calls, LINEAGE_CALLS_IN_FLIGHT, (n) => serviceLineage(client, tenDeep!, tenDeep!.roots[n % tenDeep!.roots.length]!));
    };
    try {
      const readings: Array<HeapReading & { descriptors: number }> = [];
      for (let round = 0; round < leakRounds; round++) {
        await work();
        readings.push(await readMemory(server, round + 1));
      }
      const measured = readings.slice(1);
      const described = `${leakRounds - 1} measured rounds of ${cycles} subscribe/cancel cycles and ${calls} lineage calls (after one warm-up round)`;
      const trend = (values: number[]) => {
        const { slope } = linearFit(
          values.map((_, i) => i),
          values,
        );
        return { perRound: slope, overRun: slope * (values.length - 1) };
      };
      const heap = trend(measured.map((r) => r.heapUsedBytes));
      context.report({
        scenario: 'leaks',
        name: `server heap used after forced GC, fitted growth over ${described}`,
        unit: '%',
        value: (100 * heap.overRun) / measured[0]!.heapUsedBytes,
        limit: { max: HEAP_GROWTH_LIMIT_PERCENT },
        notes: { 'KiB per round': heap.perRound / 1024, 'readings MiB': measured.map((r) => formatNumber(r.heapUsedBytes / MiB)).join(' / ') },
      });
      const rss = trend(measured.map((r) => r.rssBytes));
      context.report({
        scenario: 'leaks',
        name: `server RSS after forced GC, fitted growth over the same`,
        unit: '%',
        value: (100 * rss.overRun) / measured[0]!.rssBytes,
        limit: { max: RSS_GROWTH_LIMIT_PERCENT },
        notes: { 'KiB per round': rss.perRound / 1024, 'readings MiB': measured.map((r) => formatNumber(r.rssBytes / MiB)).join(' / ') },
      });
      const descriptors = trend(measured.map((r) => r.descriptors));
      context.report({
        scenario: 'leaks',
        name: `server open file descriptors, fitted growth over the same`,
        unit: 'handles',
        value: descriptors.overRun,
        limit: { max: HANDLE_GROWTH_LIMIT },
        notes: { readings: measured.map((r) => r.descriptors).join(' / '), 'active resources (event loop)': measured.map((r) => r.activeResources).join(' / ') },
      });
    } finally {
      client.close();
      await context.stop(server);
    }
  },
};

/** Has the server collect garbage and report (SIGUSR2, heap-probe.ts), and counts its descriptors meanwhile. */
async function readMemory(server: ServerProcess, n: number): Promise<HeapReading & { descriptors: number }> {
  server.child.kill('SIGUSR2');
  let reading: HeapReading | undefined;
  await until(() => (reading = parseHeapReading(server.output(), n)) !== undefined, `the server's heap reading ${n}`, 60_000);
  return { ...reading!, descriptors: openHandles(server.child.pid!) };
}
