import { formatNumber, meetsBudget, share, type Figure, type Measurement } from './figures.js';

/**
 * `npm run bench -- --runs N`: the figures of N whole runs, summed up per
 * figure as the median and the spread (lowest to highest) of the runs, with
 * the machine's load average around each run, so that a figure that passes
 * or fails by luck shows it. bench/render-results.ts turns the JSON into
 * RESULTS.md's tables.
 */
export interface RunRecord {
  run: number;
  startedAt: string;
  seconds: number;
  /** os.loadavg() (1, 5 and 15 minutes) before and after the run. */
  loadAverage: { before: number[]; after: number[] };
  results: Array<Figure | Measurement>;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface FigureSummary {
  scenario: string;
  name: string;
  unit: string;
  runs: number;
  /** For figures against a baseline: ours, the baseline and ours' share of the baseline's speed. */
  ours?: Spread;
  baseline?: Spread;
  share?: Spread;
  /** For figures without a baseline. */
  value?: Spread;
  /** The goal, as printed ("≥ 80% of the baseline's speed", "≤ 5 ms"), if the figure has one. */
  goal?: string;
  /** How many runs met the goal; the median is judged on its own. */
  runsMeetingGoal?: number;
  medianMeetsGoal?: boolean;
}

/** The median (of an even count, the mean of the middle two), the lowest and the highest. */
export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

export function goalOf(entry: Figure | Measurement): string | undefined {
  if ('value' in entry) {
    if (!entry.limit) return undefined;
    return entry.limit.max !== undefined ? `≤ ${formatNumber(entry.limit.max)} ${entry.unit}` : `≥ ${formatNumber(entry.limit.min!)} ${entry.unit}`;
  }
  if (entry.budget === undefined) return undefined;
  const percent = `≥ ${Math.round(entry.budget * 100)}% of the baseline's speed`;
  return entry.better === 'lower' ? `${percent} (≤ ${formatNumber(1 / entry.budget)}× its time)` : percent;
}

/** One summary per figure, in the order the figures were first reported. */
export function summarize(runs: readonly RunRecord[]): FigureSummary[] {
  const byFigure = new Map<string, Array<Figure | Measurement>>();
  for (const run of runs) {
    for (const entry of run.results) {
      const key = `${entry.scenario}\u0000${entry.name}`;
      byFigure.set(key, [...(byFigure.get(key) ?? []), entry]);
    }
  }
  return [...byFigure.values()].map((entries) => {
    const [first] = entries as [Figure | Measurement];
    const summary: FigureSummary = { scenario: first.scenario, name: first.name, unit: first.unit, runs: entries.length };
    if ('value' in first) {
      const values = (entries as Measurement[]).map((e) => e.value);
      summary.value = spread(values);
      if (first.limit) summary.medianMeetsGoal = meetsBudget({ ...first, value: summary.value.median });
    } else {
      const figures = entries as Figure[];
      summary.ours = spread(figures.map((f) => f.ours));
      summary.baseline = spread(figures.map((f) => f.baseline));
      summary.share = spread(figures.map(share));
      if (first.budget !== undefined) summary.medianMeetsGoal = summary.share.median >= first.budget;
    }
    const goal = goalOf(first);
    if (goal) {
      summary.goal = goal;
      summary.runsMeetingGoal = entries.filter((e) => meetsBudget(e)).length;
    }
    return summary;
  });
}

export function formatSpread(s: Spread, format: (n: number) => string = formatNumber): string {
  return s.min === s.max ? format(s.median) : `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}

export const formatPercent = (n: number): string => `${Math.round(n * 100)}%`;

function verdict(s: FigureSummary): string {
  if (s.medianMeetsGoal === undefined) return '';
  return `  [median ${s.medianMeetsGoal ? 'meets' : 'MISSES'} the goal; ${s.runsMeetingGoal} of ${s.runs} runs meet it]`;
}

/** One line per figure: the median and spread of each number over the runs. */
export function formatSummary(s: FigureSummary): string {
  const goal = s.goal ? ` (goal ${s.goal})` : '';
  if (s.value) return `${s.scenario} | ${s.name}: ${formatSpread(s.value)} ${s.unit}${goal}${verdict(s)}`;
  return `${s.scenario} | ${s.name}: ours ${formatSpread(s.ours!)} ${s.unit}, baseline ${formatSpread(s.baseline!)} ${s.unit}, ${formatSpread(s.share!, formatPercent)} of the baseline's speed${goal}${verdict(s)}`;
}
