import { setTimeout as sleep } from 'node:timers/promises';
import { ProvenanceClient } from '@provenance/client';
import type { BenchContext, Scenario } from '../support/context.js';
import { lineageCases, serviceLineage } from '../support/lineage-cases.js';
import { openHandles, rssMiB } from '../support/process-stats.js';
import { runInFlight } from '../support/stats.js';

const LINEAGE_CALLS_IN_FLIGHT = 8;
/** How long the server is left idle before a reading, so that cancelled calls are released and the garbage collector has run. */
const SETTLE_MS = 2000;

/**
 * Scenario 7: the server's RSS and open file descriptors before and after
 * many WatchEvents subscribe/cancel cycles and many lineage calls (10 deep,
 * ids view, on the graph), both read after a warm-up of a tenth of the
 * work, so that what the first calls allocate for good (caches, JIT code,
 * pools) is not counted as a leak.
 */
export const leaks: Scenario = {
  name: 'leaks',
  async run(context: BenchContext) {
    const path = await context.graphDatabase();
    const server = await context.startServer({ PROVENANCE_SQLITE_PATH: path });
    const pid = server.child.pid!;
    const client = new ProvenanceClient({ address: server.address, timeoutMs: 60_000 });
    const [, tenDeep] = lineageCases(context.sizes.graph, context.sizes.lineageRoots);
    const work = async (cycles: number, lineageCalls: number) => {
      for (let i = 0; i < cycles; i++) {
        const watch = client.watchEvents({});
        await watch.subscribed();
        watch.close();
      }
      await runInFlight(lineageCalls, LINEAGE_CALLS_IN_FLIGHT, (n) => serviceLineage(client, tenDeep!, tenDeep!.roots[n % tenDeep!.roots.length]!));
      await sleep(SETTLE_MS);
    };
    try {
      const { leakSubscribeCycles: cycles, leakLineageCalls: calls } = context.sizes;
      await work(Math.ceil(cycles / 10), Math.ceil(calls / 10));
      const before = { rss: rssMiB(pid), handles: openHandles(pid) };
      await work(cycles, calls);
      const after = { rss: rssMiB(pid), handles: openHandles(pid) };
      const described = `${cycles} subscribe/cancel cycles and ${calls} lineage calls`;
      context.report({
        scenario: 'leaks',
        name: `server RSS growth over ${described}`,
        unit: '%',
        value: ((after.rss - before.rss) / before.rss) * 100,
        limit: { max: 5 },
        notes: { 'before MiB': before.rss, 'after MiB': after.rss },
      });
      context.report({
        scenario: 'leaks',
        name: `server open handles (file descriptors) gained over ${described}`,
        unit: 'handles',
        value: after.handles - before.handles,
        limit: { max: 0 },
        notes: { before: before.handles, after: after.handles },
      });
    } finally {
      client.close();
      await context.stop(server);
    }
  },
};
