import { seededRandom, type SeededRandom } from '../support/seeded-random.js';

/**
 * One fuzz run's settings, from the environment:
 * FUZZ_ITERATIONS, how many requests (the small default of `npm test`, or
 * the large count `npm run fuzz` sets); FUZZ_SEED, the seed of the PRNG
 * (random when unset, and printed either way); FUZZ_CASE, one case number
 * of the run to send alone (the others are still generated, unsent, so the
 * case is the same one).
 */
export interface FuzzRun {
  random: SeededRandom;
  iterations: number;
  onlyCase: number | undefined;
  /** The command line that makes the same choices again. */
  reproduce: string;
}

export function fuzzRun(label: string, defaultIterations: number): FuzzRun {
  const iterations = positiveInteger('FUZZ_ITERATIONS') ?? defaultIterations;
  const onlyCase = positiveInteger('FUZZ_CASE');
  const random = seededRandom('FUZZ_SEED', label);
  return { random, iterations, onlyCase, reproduce: `FUZZ_SEED=${random.seed} FUZZ_ITERATIONS=${iterations}` };
}

function positiveInteger(variable: string): number | undefined {
  const text = process.env[variable];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${variable} must be a non-negative integer, got ${text}`);
  return value;
}

/** How long any one request may take to be answered before it counts as a hang: generous, for a busy machine. */
export const CALL_DEADLINE_MS = 30_000;

/** What the checks found wrong, each with the case that showed it; the first ones are kept whole, the rest counted. */
export class FuzzFindings {
  private readonly kept: string[] = [];
  private count = 0;

  constructor(private readonly run: FuzzRun) {}

  add(finding: string): void {
    this.count++;
    if (this.kept.length < 40) this.kept.push(finding);
  }

  /** A finding that explains the others (the server died): listed first, whatever else was found. */
  addFirst(finding: string): void {
    this.count++;
    this.kept.unshift(finding);
  }

  get size(): number {
    return this.count;
  }

  /** Throws naming every finding kept, the seed, and how to run the same requests again. */
  assertNone(): void {
    if (this.count === 0) return;
    throw new Error(
      `${this.count} fuzz finding(s); ${this.run.reproduce} sends the same requests again (add FUZZ_CASE=<n> to send case n alone):\n  ${this.kept.join('\n  ')}` +
        (this.count > this.kept.length ? `\n  … and ${this.count - this.kept.length} more` : ''),
    );
  }
}

/**
 * Runs the run's cases, at most `concurrency` at a time. Cases are made one
 * after the other from the one PRNG, each when a slot frees, and making one
 * is synchronous: which case has which number depends on the seed only,
 * never on the order answers arrive in.
 */
export async function runCases<Case>(run: FuzzRun, concurrency: number, make: (index: number) => Case, send: (testCase: Case, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const takeCase = (): { testCase: Case; index: number } | undefined => {
    while (next < run.iterations) {
      const index = next++;
      const testCase = make(index);
      if (run.onlyCase === undefined || run.onlyCase === index) return { testCase, index };
    }
    return undefined;
  };
  const worker = async () => {
    for (let taken = takeCase(); taken; taken = takeCase()) await send(taken.testCase, taken.index);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
