/**
 * A benchmark figure: what the service did, what the bare baseline did in the
 * same run on the same machine, and their ratio, with the budget of issue #7
 * it is held to (if any).
 */
export interface Figure {
  scenario: string;
  /** What was measured, e.g. "ancestors (full), ids view, p50". */
  name: string;
  unit: string;
  ours: number;
  baseline: number;
  /** 'higher' for rates (ours / baseline), 'lower' for times (baseline / ours): above 1 means ours is better. */
  better: 'higher' | 'lower';
  /** The lowest acceptable share of the baseline (e.g. 0.6 for "≥ 60% of the echo baseline"); absent when the budget says nothing. */
  budget?: number;
  /** Anything else worth printing: sizes, round trips, percentiles of the baseline. */
  notes?: Record<string, number | string>;
}

/** A figure with no baseline: an absolute bound of the budget (e.g. "p99 ≤ 50 ms"), or a number that is only shown. */
export interface Measurement {
  scenario: string;
  name: string;
  unit: string;
  value: number;
  /** The bound the budget sets, and on which side of it the value must stay. */
  limit?: { max?: number; min?: number };
  notes?: Record<string, number | string>;
}

/** ours relative to the baseline, oriented so that 1 means "as fast as the bare baseline" and less means slower. */
export function share(figure: Figure): number {
  if (figure.better === 'higher') return figure.ours / figure.baseline;
  return figure.baseline / figure.ours;
}

export function meetsBudget(entry: Figure | Measurement): boolean | undefined {
  if ('value' in entry) {
    if (!entry.limit) return undefined;
    return (entry.limit.max === undefined || entry.value <= entry.limit.max) && (entry.limit.min === undefined || entry.value >= entry.limit.min);
  }
  return entry.budget === undefined ? undefined : share(entry) >= entry.budget;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function verdict(entry: Figure | Measurement): string {
  const meets = meetsBudget(entry);
  return meets === undefined ? '' : meets ? '  [meets budget]' : '  [MISSES budget]';
}

function notes(entry: Figure | Measurement): string {
  const text = (v: number | string) => (typeof v === 'string' ? v : Number.isInteger(v) ? v.toLocaleString('en-US') : formatNumber(v));
  return entry.notes ? '  (' + Object.entries(entry.notes).map(([k, v]) => `${k} ${text(v)}`).join(', ') + ')' : '';
}

/** One line: ours, the baseline and the ratio. */
export function formatLine(entry: Figure | Measurement): string {
  if ('value' in entry) {
    const bound = entry.limit ? ` (budget ${entry.limit.max !== undefined ? `≤ ${entry.limit.max}` : `≥ ${entry.limit.min}`} ${entry.unit})` : '';
    return `${entry.scenario} | ${entry.name}: ${formatNumber(entry.value)} ${entry.unit}${bound}${verdict(entry)}${notes(entry)}`;
  }
  const budget = entry.budget === undefined ? '' : ` (budget ≥ ${Math.round(entry.budget * 100)}%)`;
  return (
    `${entry.scenario} | ${entry.name}: ours ${formatNumber(entry.ours)} ${entry.unit}, baseline ${formatNumber(entry.baseline)} ${entry.unit}, ` +
    `ours/baseline ${formatNumber(entry.ours / entry.baseline)}, ${Math.round(share(entry) * 100)}% of the baseline's speed${budget}${verdict(entry)}${notes(entry)}`
  );
}
