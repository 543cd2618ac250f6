import { expect } from 'chai';
import Database from 'better-sqlite3';
import type { Figure, Measurement } from '../../bench/support/figures.js';
import { bareLineageStatement, type LineageCase } from '../../bench/support/lineage-cases.js';
import { MemoryGraph } from '../../bench/support/memory-graph.js';
import { linearFit, tail } from '../../bench/support/stats.js';
import { summarize, type RunRecord } from '../../bench/support/summary.js';
import { renderTables } from '../../bench/render-results.js';

/** The bench's own arithmetic: the summary of several runs, the fitted trend of the leak check, tails, and the in-memory walk baseline. */

function run(n: number, results: Array<Figure | Measurement>): RunRecord {
  return { run: n, startedAt: `2026-12-05T12:0${n}:00.000Z`, seconds: 60, loadAverage: { before: [1, 1, 1], after: [2, 2, 2] }, results };
}

const unary = (ours: number): Figure => ({ scenario: 'unary', name: 'GetJob', unit: 'calls/s', ours, baseline: 1000, better: 'higher', budget: 0.8 });
const p99 = (value: number): Measurement => ({ scenario: 'events', name: 'p99', unit: 'ms', value, limit: { max: 20 } });

describe('bench summaries', () => {
  it('give each figure the median and spread of the runs, and count the runs that met the goal', () => {
    const [figure, measurement] = summarize([run(1, [unary(700), p99(30)]), run(2, [unary(900), p99(10)]), run(3, [unary(850), p99(15)])]);
    expect(figure!.share).to.deep.equal({ median: 0.85, min: 0.7, max: 0.9 });
    expect(figure!.medianMeetsGoal).to.equal(true);
    expect(figure!.runsMeetingGoal).to.equal(2);
    expect(figure!.goal).to.equal("≥ 80% of the baseline's speed");
    expect(measurement!.value).to.deep.equal({ median: 15, min: 10, max: 30 });
    expect(measurement!.runsMeetingGoal).to.equal(2);
  });

  it('take the mean of the middle two as the median of an even number of runs', () => {
    const [figure] = summarize([run(1, [unary(600)]), run(2, [unary(900)])]);
    expect(figure!.ours!.median).to.equal(750);
    expect(figure!.medianMeetsGoal).to.equal(false);
  });

  it('render a row per figure and per run, with misses in bold', () => {
    const runs = [run(1, [unary(500)])];
    const tables = renderTables({ date: '2026-12-05T12:00:00Z', machine: 'test machine', smoke: false, scenarios: ['unary'], runs, summary: summarize(runs) });
    expect(tables).to.include('| 1 | 2026-12-05 12:01:00 | 60.0 | 1.00, 1.00, 1.00 | 2.00, 2.00, 2.00 |');
    expect(tables).to.include("| unary | GetJob | 500 calls/s | 1,000 calls/s | 50% | ≥ 80% of the baseline's speed | **misses** | 0 of 1 |");
  });
});

describe('bench statistics', () => {
  it('fit a line through readings, so that a leak shows as a slope and noise around a level does not', () => {
    expect(linearFit([0, 1, 2, 3], [10, 12, 14, 16])).to.deep.equal({ slope: 2, intercept: 10 });
    expect(linearFit([0, 1, 2, 3], [10, 11, 9, 10]).slope).to.be.closeTo(-0.2, 1e-9);
  });

  it('call a tail of fewer than 100 samples the maximum, and of more the p99', () => {
    expect(tail([1, 5, 3])).to.deep.equal({ label: 'max', value: 5 });
    expect(tail(Array.from({ length: 200 }, (_, i) => i + 1))).to.deep.equal({ label: 'p99', value: 198 });
  });
});

describe('the in-memory walk baseline', () => {
  it('finds the same jobs as the bare recursive query, in both directions and within a depth', () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE job_parents (child_id TEXT, parent_id TEXT)');
      // a ← b ← c ← d, and a ← c: d's ancestors are c, b, a; within 1 edge only c.
      const insert = db.prepare('INSERT INTO job_parents VALUES (?, ?)');
      for (const [child, parent] of [['b', 'a'], ['c', 'b'], ['c', 'a'], ['d', 'c']]) insert.run(child, parent);
      const memory = new MemoryGraph(db);
      const cases: LineageCase[] = [
        { name: 'ancestors', direction: 'ANCESTORS', maxDepth: 0, roots: ['d'] },
        { name: 'ancestors, 1 deep', direction: 'ANCESTORS', maxDepth: 1, roots: ['d'] },
        { name: 'descendants', direction: 'DESCENDANTS', maxDepth: 0, roots: ['a'] },
      ];
      const found = cases.map((c) => memory.walker(c)(c.roots[0]!).sort());
      expect(found).to.deep.equal([['a', 'b', 'c'], ['c'], ['b', 'c', 'd']]);
      cases.forEach((c, i) => expect(bareLineageStatement(db, c)(c.roots[0]!), c.name).to.equal(found[i]!.length));
    } finally {
      db.close();
    }
  });
});
