import Database from 'better-sqlite3';
import { LineageView, ProvenanceClient } from '@provenance/client';
import type { BenchContext, Scenario } from '../support/context.js';
import { bareLineageStatement, lineageCases, serviceLineage, type LineageCase } from '../support/lineage-cases.js';
import { percentile, timeMs } from '../support/stats.js';

/**
 * Scenario 1: GetLineage through the generated client against a live server
 * on the graph's SQLite file, against the bare recursive query on the same
 * file in this process. Each root is asked of both, alternately, after a
 * warm-up, so that both see the same cache state.
 */
export const lineage: Scenario = {
  name: 'lineage',
  async run(context: BenchContext) {
    const path = await context.graphDatabase();
    const server = await context.startServer({ PROVENANCE_SQLITE_PATH: path });
    const client = new ProvenanceClient({ address: server.address, timeoutMs: 120_000 });
    const db = new Database(path, { readonly: true });
    try {
      for (const lineageCase of lineageCases(context.sizes.graph, context.sizes.lineageRoots)) {
        const timings = await measureCase(client, db, lineageCase, LineageView.LINEAGE_VIEW_IDS);
        context.report({
          scenario: 'lineage',
          name: `${lineageCase.name}, ids view, p50`,
          unit: 'ms',
          ours: percentile(timings.ours, 0.5),
          baseline: percentile(timings.baseline, 0.5),
          better: 'lower',
          // "p50 ≤ 1.5× the bare query for full ancestors"
          budget: lineageCase.name === 'ancestors (full)' ? 1 / 1.5 : undefined,
          notes: { 'ours p99': percentile(timings.ours, 0.99), 'baseline p99': percentile(timings.baseline, 0.99), 'nodes p50': percentile(timings.nodes, 0.5) },
        });
        if (lineageCase.maxDepth === 10) {
          context.report({ scenario: 'lineage', name: `${lineageCase.name}, ids view, p50 end to end`, unit: 'ms', value: percentile(timings.ours, 0.5), limit: { max: 10 } });
        }
        if (lineageCase.name === 'ancestors (full)') {
          // Whole records: what the view saves.
          const full = await measureCase(client, db, lineageCase, LineageView.LINEAGE_VIEW_FULL);
          context.report({
            scenario: 'lineage',
            name: `${lineageCase.name}, full view (whole records), p50`,
            unit: 'ms',
            ours: percentile(full.ours, 0.5),
            baseline: percentile(full.baseline, 0.5),
            better: 'lower',
            notes: { 'ours p99': percentile(full.ours, 0.99), 'baseline p99': percentile(full.baseline, 0.99) },
          });
        }
      }
    } finally {
      db.close();
      client.close();
      await context.stop(server);
    }
  },
};

interface CaseTimings {
  ours: number[];
  baseline: number[];
  nodes: number[];
}

async function measureCase(client: ProvenanceClient, db: Database.Database, lineageCase: LineageCase, view: LineageView): Promise<CaseTimings> {
  const bare = bareLineageStatement(db, lineageCase);
  const warmUp = lineageCase.roots.slice(0, 2);
  for (const root of warmUp) {
    await serviceLineage(client, lineageCase, root, view);
    bare(root);
  }
  const timings: CaseTimings = { ours: [], baseline: [], nodes: [] };
  for (const root of lineageCase.roots) {
    let ourNodes = 0;
    let bareNodes = 0;
    timings.ours.push(await timeMs(async () => (ourNodes = await serviceLineage(client, lineageCase, root, view))));
    timings.baseline.push(await timeMs(() => (bareNodes = bare(root))));
    if (ourNodes !== bareNodes) throw new Error(`${lineageCase.name} of ${root}: the service found ${ourNodes} jobs, the bare query ${bareNodes}`);
    timings.nodes.push(ourNodes);
  }
  return timings;
}
