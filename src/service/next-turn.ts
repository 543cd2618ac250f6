/**
 * Resolves once the event loop has turned: the calls waiting for it run
 * before the work that awaits this goes on. Long work on the serving thread
 * (a large lineage's build, its access filtering, its encoding) awaits it
 * between its steps, so that no step holds a call beside it for long
 * (docs/decisions.md, "Large lineage answers").
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs steps (a generator that pauses with yield) to its end, letting the event loop turn at each pause; its return value. */
export async function inTurns<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}
