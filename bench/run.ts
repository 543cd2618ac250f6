import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BenchContext, FULL_SIZES, SMOKE_SIZES, type Scenario, type Sizes } from './support/context.js';
import { formatSummary, summarize, type RunRecord } from './support/summary.js';
import { SCENARIOS } from './scenarios/index.js';

/**
 * `npm run bench [-- --smoke] [--runs N] [--graph N] [--growth-sizes 1000,…,1000000] [scenario ...]`:
 * runs the scenarios (all, in order, unless named) N times (1 by default),
 * each run on a fresh context (servers, databases, Redis prefixes); prints
 * one line per figure, then, with several runs, the median and spread of
 * each figure; writes everything as JSON to bench/results/latest.json
 * (bench/render-results.ts turns it into RESULTS.md's tables).
 */
interface Options {
  smoke: boolean;
  runs: number;
  sizes: Sizes;
  scenarios: Scenario[];
}

function parseOptions(args: string[]): Options {
  const smoke = args.includes('--smoke');
  const sizes = { ...(smoke ? SMOKE_SIZES : FULL_SIZES) };
  let runs = 1;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--smoke') continue;
    if (arg === '--runs') {
      runs = Number(args[++i]);
      if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error(`--runs takes a whole number from 1 to 100, not ${args[i]}`);
    } else if (arg === '--growth-sizes') {
      const growth = (args[++i] ?? '').split(',').map(Number);
      if (growth.some((n) => !Number.isInteger(n) || n < 10 || n > 10_000_000)) throw new Error(`--growth-sizes takes job counts from 10 to 10,000,000, comma-separated, not ${args[i]}`);
      sizes.growth = growth;
    } else if (arg === '--graph') {
      sizes.graph = Number(args[++i]);
      if (!Number.isInteger(sizes.graph) || sizes.graph < 2000 || sizes.graph > 10_000_000) throw new Error(`--graph takes a job count from 2,000 to 10,000,000, not ${args[i]}`);
    } else if (arg.startsWith('--')) {
      throw new Error(`unknown option ${arg}; known: --smoke, --runs N, --graph N, --growth-sizes a,b,c`);
    } else {
      names.push(arg);
    }
  }
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return { smoke, runs, sizes, scenarios: names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name)) };
}

const formatLoad = (load: number[]) => load.map((n) => n.toFixed(2)).join(' ');

async function runOnce(options: Options, run: number): Promise<RunRecord> {
  const startedAt = new Date().toISOString();
  const before = loadavg();
  console.log(`== run ${run} of ${options.runs}, load average ${formatLoad(before)}`);
  const context = new BenchContext(options.sizes, options.smoke);
  const started = Date.now();
  try {
    for (const scenario of options.scenarios) {
      const scenarioStart = Date.now();
      await scenario.run(context);
      console.log(`-- ${scenario.name} took ${((Date.now() - scenarioStart) / 1000).toFixed(1)} s`);
    }
  } finally {
    await context.close();
  }
  const after = loadavg();
  const seconds = (Date.now() - started) / 1000;
  console.log(`== run ${run} done in ${seconds.toFixed(1)} s, load average ${formatLoad(after)}`);
  return { run, startedAt, seconds, loadAverage: { before, after }, results: context.results };
}

async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  console.log(`provenance bench (${options.smoke ? 'smoke sizes' : 'full sizes'}, ${options.runs} run${options.runs > 1 ? 's' : ''}) on ${machine}`);
  const runs: RunRecord[] = [];
  for (let run = 1; run <= options.runs; run++) runs.push(await runOnce(options, run));
  const summary = summarize(runs);
  if (options.runs > 1) {
    console.log(`== median (lowest–highest) of ${options.runs} runs`);
    for (const figure of summary) console.log(formatSummary(figure));
  }
  const directory = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    `${directory}latest.json`,
    JSON.stringify(
      { date: new Date().toISOString(), machine, smoke: options.smoke, sizes: options.sizes, scenarios: options.scenarios.map((s) => s.name), runs, summary },
      null,
      2,
    ) + '\n',
  );
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
