/** The q-quantile (0..1) of values, by the nearest-rank method. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Milliseconds elapsed since start (a process.hrtime.bigint() reading). */
export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs call(0) … call(total − 1), with at most inFlight of them running at once. */
export async function runInFlight(total: number, inFlight: number, call: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) await call(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
}

/** Times fn once, in milliseconds. */
export async function timeMs(fn: () => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return elapsedMs(start);
}

/** Fewer samples than this make the 0.99 quantile the maximum, and it is printed as such. */
export const P99_MIN_SAMPLES = 100;

/** The tail of the samples: their p99 when there are enough of them to have one, else their maximum, named for what it is. */
export function tail(values: readonly number[]): { label: 'p99' | 'max'; value: number } {
  return values.length >= P99_MIN_SAMPLES ? { label: 'p99', value: percentile(values, 0.99) } : { label: 'max', value: values.reduce((a, b) => Math.max(a, b), -Infinity) };
}

/** The least-squares line through (x, y): its slope (y per unit of x) and its value at x = 0. */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number } {
  const n = xs.length;
  if (n < 2 || ys.length !== n) throw new Error(`a line needs at least two points, not ${n}`);
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    covariance += (xs[i]! - meanX) * (ys[i]! - meanY);
    variance += (xs[i]! - meanX) ** 2;
  }
  const slope = covariance / variance;
  return { slope, intercept: meanY - slope * meanX };
}
