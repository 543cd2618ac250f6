import { expect } from 'chai';
import { BIG_CALL_KINDS } from '../../bench/support/big-calls.js';
import { BenchContext, SMOKE_SIZES } from '../../bench/support/context.js';
import type { Figure, Measurement } from '../../bench/support/figures.js';
import { SCENARIOS } from '../../bench/scenarios/index.js';
import { startMongoLane, type MongoLane } from '../support/mongo-lane.js';

/**
 * `npm run bench -- --smoke`, in the test run: every scenario runs at tiny
 * sizes and reports figures that are numbers. How fast they are is not
 * checked here (no timing assertions in tests); that is bench/RESULTS.md.
 */

/** The figures each scenario must report, at the least. */
const EXPECTED_FIGURES: Record<string, number> = {
  'batch-ingest': 1,
  // Per view and case, against the bare query and the in-memory walk; depth 10 end to end; the GetJob probe beside each kind of big call; ListDependents pages.
  lineage: 12 + BIG_CALL_KINDS,
  // Per size: load rate, start-up, first lineage, cold probe, later lineages, warm probe, RSS per job, disk per job; at the largest, the probe beside each kind of big call.
  growth: 8 * SMOKE_SIZES.growth.length + BIG_CALL_KINDS,
  // StreamLineage and GetLineage: the server's peak RSS, its growth per node, and the time; the stream cut and resumed: the peak RSS.
  'stream-lineage': 7,
  unary: 1,
  execution: SMOKE_SIZES.executionConcurrency.length,
  events: 3,
  leaks: 3,
  'lineage-mongo': 6,
};

function numbersOf(entry: Figure | Measurement): number[] {
  return 'value' in entry ? [entry.value] : [entry.ours, entry.baseline];
}

describe('benchmarks at smoke sizes', function () {
  this.timeout(300_000);
  const lines: string[] = [];
  const context = new BenchContext(SMOKE_SIZES, true, (line) => lines.push(line), undefined);
  after(() => context.close());

  for (const scenario of SCENARIOS.filter((s) => s.name !== 'lineage-mongo')) {
    it(`${scenario.name} reports finite figures`, async () => {
      await scenario.run(context);
      const figures = context.results.filter((r) => r.scenario === scenario.name);
      expect(figures.length, lines.join('\n')).to.be.at.least(EXPECTED_FIGURES[scenario.name]!);
      for (const figure of figures) {
        for (const n of numbersOf(figure)) expect(Number.isFinite(n), `${figure.name}: ${n}`).to.equal(true);
        if (!('value' in figure)) expect(figure.ours).to.be.above(0);
      }
    });
  }

  describe('on the MongoDB lane', () => {
    let lane: MongoLane;
    let mongoContext: BenchContext;
    before(async () => {
      lane = await startMongoLane();
      // The emulator is quadratic on big graphs: a few hundred jobs keep this quick.
      mongoContext = new BenchContext({ ...SMOKE_SIZES, graph: lane.emulated ? 300 : SMOKE_SIZES.graph }, true, (line) => lines.push(line), lane.uri);
    });
    after(async () => {
      await mongoContext?.close();
      await lane?.stop();
    });

    it('lineage-mongo reports one round trip per query and direction', async () => {
      await SCENARIOS.find((s) => s.name === 'lineage-mongo')!.run(mongoContext);
      const figures = mongoContext.results;
      expect(figures.length, lines.join('\n')).to.equal(EXPECTED_FIGURES['lineage-mongo']);
      for (const figure of figures) {
        for (const n of numbersOf(figure)) expect(Number.isFinite(n), `${figure.name}: ${n}`).to.equal(true);
        if ('value' in figure) expect(figure.value, figure.name).to.equal(1);
      }
    });
  });
});
