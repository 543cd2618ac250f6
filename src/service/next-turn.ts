/**
 * The longest that long work on the serving thread (a large lineage's
 * build, its access filtering, its encoding) runs between two turns of the
 * event loop, on the wall clock: a machine too busy to run this process
 * counts too. Counts of items per step took a few milliseconds on a quiet
 * machine and tens to hundreds beside other load, and a call beside the
 * work waits for one step at each of the several turns it needs, so the
 * budget is short: 1 ms, since records are read and decoded on this thread
 * as large answers are written (2 ms before, the budget encodeInParts had
 * before it took this clock; docs/decisions.md, "Turns by the clock").
 */
export const TURN_BUDGET_MS = 1;

/**
 * Resolves once the event loop has turned: the calls waiting for it run
 * before the work that awaits this goes on.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** When long work lets the event loop turn: once TURN_BUDGET_MS has passed since it began or last turned. */
export class TurnClock {
  private since = performance.now();

  /** Whether the work has run its budget; it should then await turn(). Cheap enough to ask every few hundred items. */
  due(): boolean {
    return performance.now() - this.since >= TURN_BUDGET_MS;
  }

  async turn(): Promise<void> {
    await nextTurn();
    this.since = performance.now();
  }
}

/** Runs steps (a generator that pauses with yield) to its end, letting the event loop turn at the pauses that come once TURN_BUDGET_MS is spent; its return value. */
export async function inTurns<T>(steps: Generator<void, T>): Promise<T> {
  const clock = new TurnClock();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (clock.due()) await clock.turn();
  }
}
