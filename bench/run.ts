import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BenchContext, FULL_SIZES, SMOKE_SIZES, type Scenario } from './support/context.js';
import { SCENARIOS } from './scenarios/index.js';

/**
 * `npm run bench [-- --smoke] [scenario ...]`: runs the scenarios of issue #7
 * (all, in order, unless named), prints one line per figure and writes them
 * as JSON to bench/results/latest.json.
 */
async function main(args: string[]): Promise<void> {
  const smoke = args.includes('--smoke');
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const chosen: Scenario[] = names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name));

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  console.log(`provenance bench (${smoke ? 'smoke sizes' : 'issue #7 sizes'}) on ${machine}`);
  const context = new BenchContext(smoke ? SMOKE_SIZES : FULL_SIZES, smoke);
  const started = Date.now();
  try {
    for (const scenario of chosen) {
      const scenarioStart = Date.now();
      await scenario.run(context);
      console.log(`-- ${scenario.name} took ${((Date.now() - scenarioStart) / 1000).toFixed(1)} s`);
    }
  } finally {
    await context.close();
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`all done in ${seconds.toFixed(1)} s`);
  const directory = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    `${directory}latest.json`,
    JSON.stringify({ date: new Date().toISOString(), machine, smoke, seconds, scenarios: chosen.map((s) => s.name), results: context.results }, null, 2) + '\n',
  );
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
