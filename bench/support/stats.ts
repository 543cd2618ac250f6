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
