import { randomInt } from 'node:crypto';
import { mulberry32 } from './job-records.js';

export interface SeededRandom {
  seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
}

/**
 * A PRNG for a randomized test: seeded from the environment variable when it
 * is set, else at random; the seed is printed, so that a failure can be run
 * again with the same choices (timing, which the machine decides, may still
 * differ).
 */
export function seededRandom(variable: string, label: string): SeededRandom {
  const given = process.env[variable];
  const seed = given === undefined || given === '' ? randomInt(2 ** 31) : Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`${variable} must be an integer, got ${given}`);
  console.log(`      ${label}: seed ${seed} (${variable}=${seed} makes the same choices)`);
  const next = mulberry32(seed);
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return { seed, next, int, pick: (items) => items[int(0, items.length - 1)]!, chance: (probability) => next() < probability };
}
