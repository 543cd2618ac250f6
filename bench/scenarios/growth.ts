import Database from 'better-sqlite3';
import { ProvenanceClient } from '@provenance/client';
import type { BenchContext, Scenario } from '../support/context.js';
import { bareLineageStatement, lineageCases, serviceLineage } from '../support/lineage-cases.js';
import { rssMiB } from '../support/process-stats.js';
import { formatNumber } from '../support/figures.js';
import { percentile, timeMs } from '../support/stats.js';

/**
 * Scenario 6: how the cost of a whole-ancestry lineage (ids view) and the
 * server's memory grow with the graph: the same seeded graph at each size,
 * a fresh server on each, the bare query beside it.
 */
export const growth: Scenario = {
  name: 'growth',
  async run(context: BenchContext) {
    const rows: string[][] = [];
    for (const size of context.sizes.growth) {
      const path = await context.graphDatabase(size);
      const server = await context.startServer({ PROVENANCE_SQLITE_PATH: path });
      const client = new ProvenanceClient({ address: server.address, timeoutMs: 120_000 });
      const db = new Database(path, { readonly: true });
      try {
        const [ancestors] = lineageCases(size, context.sizes.lineageRoots);
        const bare = bareLineageStatement(db, ancestors!);
        await serviceLineage(client, ancestors!, ancestors!.roots[0]!);
        const ours: number[] = [];
        const baseline: number[] = [];
        const nodes: number[] = [];
        for (const root of ancestors!.roots) {
          ours.push(await timeMs(async () => nodes.push(await serviceLineage(client, ancestors!, root))));
          baseline.push(await timeMs(() => bare(root)));
        }
        const rss = rssMiB(server.child.pid!);
        const p50 = percentile(ours, 0.5);
        context.report({
          scenario: 'growth',
          name: `${size.toLocaleString('en-US')} jobs: ancestors (full), ids view, p50`,
          unit: 'ms',
          value: p50,
          notes: { 'bare query p50 ms': percentile(baseline, 0.5), 'nodes p50': percentile(nodes, 0.5), 'server RSS MiB': rss },
        });
        rows.push([size.toLocaleString('en-US'), formatNumber(percentile(nodes, 0.5)), formatNumber(p50), formatNumber(percentile(baseline, 0.5)), formatNumber(rss)]);
      } finally {
        db.close();
        client.close();
        await context.stop(server);
      }
    }
    context.note(table(['jobs', 'ancestors p50', 'GetLineage p50 ms', 'bare query p50 ms', 'server RSS MiB'], rows));
  },
};

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
