import { randomBytes } from 'node:crypto';
import { MongoClient, type Document } from 'mongodb';
import { LineageView, ProvenanceClient } from '@provenance/client';
import { MongoProvenanceStore } from '../../src/adapters/mongo/mongo-provenance-store.js';
import type { BenchContext, Scenario } from '../support/context.js';
import { lineageCases, serviceLineage, type LineageCase } from '../support/lineage-cases.js';
import { recordGraph } from '../support/record-graph.js';
import { percentile, timeMs } from '../support/stats.js';

/**
 * Scenario 1 on the MongoDB lane, run only when MONGODB_URI names a real
 * server (the emulator of the tests is quadratic on big graphs): the graph
 * recorded through a server on MongoDB, GetLineage against the bare
 * $graphLookup on the same collection, and the round trips the store makes
 * per query, counted by driver command monitoring on a store of its own in
 * this process.
 */
export const lineageMongo: Scenario = {
  name: 'lineage-mongo',
  async run(context: BenchContext) {
    const uri = context.mongoUri;
    if (!uri) {
      context.note('lineage-mongo | skipped: set MONGODB_URI to a MongoDB server to run the lineage scenario on the MongoDB lane');
      return;
    }
    const database = `provbench_${process.pid}_${randomBytes(4).toString('hex')}`;
    const server = await context.startServer({ MONGODB_URI: uri, PROVENANCE_MONGODB_DATABASE: database });
    const client = new ProvenanceClient({ address: server.address, timeoutMs: 300_000 });
    const admin = new MongoClient(uri);
    let commands = 0;
    const store = await MongoProvenanceStore.connect({ uri, database, onCommandStarted: () => commands++ });
    try {
      await recordGraph(server.address, context.graph());
      const jobs = admin.db(database).collection('jobs');
      for (const lineageCase of lineageCases(context.sizes.graph, context.sizes.lineageRoots)) {
        const ours: number[] = [];
        const baseline: number[] = [];
        const roundTrips: number[] = [];
        for (const root of lineageCase.roots) {
          ours.push(await timeMs(() => serviceLineage(client, lineageCase, root, LineageView.LINEAGE_VIEW_IDS)));
          baseline.push(await timeMs(() => jobs.aggregate(bareGraphLookup(lineageCase, root), { batchSize: 10_000_000 }).toArray()));
          const before = commands;
          await store.lineage({ rootId: root, direction: lineageCase.direction, projection: 'IDS', ...(lineageCase.maxDepth ? { maxDepth: lineageCase.maxDepth + 1 } : {}) });
          roundTrips.push(commands - before);
        }
        context.report({
          scenario: 'lineage-mongo',
          name: `${lineageCase.name}, ids view, p50`,
          unit: 'ms',
          ours: percentile(ours, 0.5),
          baseline: percentile(baseline, 0.5),
          better: 'lower',
          notes: { 'ours p99': percentile(ours, 0.99), 'baseline p99': percentile(baseline, 0.99) },
        });
        context.report({
          scenario: 'lineage-mongo',
          name: `${lineageCase.name}: round trips per query (one direction)`,
          unit: 'round trips',
          value: Math.max(...roundTrips),
          limit: { max: 1 },
        });
      }
    } finally {
      await admin.db(database).dropDatabase().catch((error: unknown) => context.note(`lineage-mongo | could not drop ${database}: ${String(error)}`));
      await admin.close();
      await store.close();
      client.close();
      await context.stop(server);
    }
  },
};

/** The bare query: the ids of every job reachable from the root in that direction, within maxDepth edges when the case has a bound. */
function bareGraphLookup(lineageCase: LineageCase, rootId: string): Document[] {
  const depth = lineageCase.maxDepth ? { maxDepth: lineageCase.maxDepth - 1 } : {};
  const lookup =
    lineageCase.direction === 'ANCESTORS'
      ? { from: 'jobs', startWith: '$parentIds', connectFromField: 'parentIds', connectToField: '_id', as: 'found', ...depth }
      : { from: 'jobs', startWith: '$_id', connectFromField: '_id', connectToField: 'parentIds', as: 'found', ...depth };
  return [{ $match: { _id: rootId } }, { $graphLookup: lookup }, { $unwind: '$found' }, { $replaceRoot: { newRoot: '$found' } }, { $project: { _id: 1 } }];
}
