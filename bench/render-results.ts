import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatNumber } from './support/figures.js';
import { formatPercent, formatSpread, type FigureSummary, type RunRecord } from './support/summary.js';

/**
 * `node dist/bench/render-results.js [results.json] [--write RESULTS.md]`:
 * renders the tables of RESULTS.md from what `npm run bench -- --runs N`
 * wrote (bench/results/latest.json by default): the runs with the machine's
 * load, then one row per figure with the median and spread of the runs.
 * Prints them; with --write, replaces what lies between the markers
 * `<!-- bench-tables:start -->` and `<!-- bench-tables:end -->` in that file,
 * so that RESULTS.md's figures are generated, not typed.
 */
const START = '<!-- bench-tables:start -->';
const END = '<!-- bench-tables:end -->';

interface ResultsFile {
  date: string;
  machine: string;
  smoke: boolean;
  scenarios: string[];
  runs: RunRecord[];
  summary: FigureSummary[];
}

const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
const escape = (text: string) => text.replaceAll('|', '\\|');

export function renderTables(results: ResultsFile): string {
  const runs = [
    `${results.runs.length} run${results.runs.length > 1 ? 's' : ''} of \`npm run bench\`${results.smoke ? ' at smoke sizes' : ''} (${results.scenarios.join(', ')}), ${results.date.slice(0, 10)}, on ${results.machine}. Figures are the median of the runs, with the lowest and highest in parentheses.`,
    '',
    row(['Run', 'Started', 'Took s', 'Load average before (1, 5, 15 min)', 'after']),
    row(['---', '---', '---', '---', '---']),
    ...results.runs.map((r) =>
      row([String(r.run), r.startedAt.slice(0, 19).replace('T', ' '), formatNumber(r.seconds), r.loadAverage.before.map((n) => n.toFixed(2)).join(', '), r.loadAverage.after.map((n) => n.toFixed(2)).join(', ')]),
    ),
  ];
  const figures = [
    row(['Scenario', 'Figure', 'Ours', 'Baseline', 'Share of the baseline\'s speed', 'Goal', 'Median', 'Runs meeting']),
    row(['---', '---', '---', '---', '---', '---', '---', '---']),
    ...results.summary.map((s) => {
      const [ours, baseline, share] = s.value
        ? [`${formatSpread(s.value)} ${s.unit}`, '', '']
        : [`${formatSpread(s.ours!)} ${s.unit}`, `${formatSpread(s.baseline!)} ${s.unit}`, formatSpread(s.share!, formatPercent)];
      const verdict = s.medianMeetsGoal === undefined ? '' : s.medianMeetsGoal ? 'meets' : '**misses**';
      const meeting = s.runsMeetingGoal === undefined ? '' : `${s.runsMeetingGoal} of ${s.runs}`;
      return row([s.scenario, escape(s.name), ours, baseline, share, escape(s.goal ?? '—'), verdict, meeting]);
    }),
  ];
  return [...runs, '', ...figures].join('\n');
}

function main(args: string[]): void {
  const writeAt = args.indexOf('--write');
  const target = writeAt >= 0 ? args[writeAt + 1] : undefined;
  if (writeAt >= 0 && !target) throw new Error('--write takes the Markdown file to update');
  const source = args.find((a, i) => !a.startsWith('--') && i !== writeAt + 1) ?? fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url));
  const tables = renderTables(JSON.parse(readFileSync(source, 'utf8')) as ResultsFile);
  if (!target) {
    console.log(tables);
    return;
  }
  const document = readFileSync(target, 'utf8');
  const [start, end] = [document.indexOf(START), document.indexOf(END)];
  if (start < 0 || end < start) throw new Error(`${target} has no ${START} … ${END} markers to write between`);
  writeFileSync(target, `${document.slice(0, start + START.length)}\n${tables}\n${document.slice(end)}`);
  console.log(`wrote the tables of ${source} into ${target}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
