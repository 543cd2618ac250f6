/**
 * The waits every test layer shares. A test waits for a positive signal
 * (until: a condition polled with a deadline generous for a busy machine),
 * never for a time before asserting that nothing happened; sleep paces a
 * scenario (random gaps, a client that reads slowly), it proves nothing.
 */

/** Polls condition every 10 ms until it holds; fails naming what it waited for after timeoutMs (by default, generous for a busy machine). */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** A pause that paces a scenario; not a wait for something to happen (see until). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
