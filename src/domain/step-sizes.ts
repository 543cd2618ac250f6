/**
 * How long one step of bulk work done in steps (marking a large
 * invalidation STALE, failing the WAITING descendants of a failed job) may
 * hold the event loop, so that a call beside it waits tens of milliseconds
 * at most (issue #18).
 */
export const STEP_BUDGET_MS = 10;

/**
 * The size of each next step of such work, fitted to the time the last one
 * took, so that a step holds the event loop about STEP_BUDGET_MS whatever
 * the machine's speed and load. A fixed count of 1,000 jobs a step took
 * 100 to 260 ms on a quiet machine and over a second beside other work.
 * The caller measures; this only does the arithmetic. A step grows at most
 * twofold at a time, so one fast step (a page cache that happened to be
 * warm) does not make the next one long.
 */
export class StepSizes {
  private size: number;

  constructor(
    private readonly least: number,
    private readonly most: number,
    private readonly budgetMs = STEP_BUDGET_MS,
  ) {
    this.size = least;
  }

  get next(): number {
    return this.size;
  }

  /** After a step of `items` that took `elapsedMs`. */
  took(items: number, elapsedMs: number): void {
    if (items <= 0) return;
    const fitting = elapsedMs > 0 ? Math.floor((this.budgetMs * items) / elapsedMs) : this.most;
    this.size = Math.max(this.least, Math.min(this.most, fitting, 2 * this.size));
  }
}
