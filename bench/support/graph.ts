import { mulberry32 } from '../../test/support/job-records.js';

/**
 * The graph of issue #7: job i (from 0) has 1 to 3 distinct parents chosen at
 * random among the previous 1,000 jobs (job 0 has none), from a fixed seed, so
 * every run and every store gets the same graph.
 */
export interface GraphJob {
  jobId: string;
  parentIds: string[];
}

export const GRAPH_SEED = 20261126;
const WINDOW = 1000;

export function graphJobId(index: number): string {
  return `g${String(index).padStart(6, '0')}`;
}

export function generateGraph(size: number, seed = GRAPH_SEED): GraphJob[] {
  const random = mulberry32(seed);
  const jobs: GraphJob[] = [];
  for (let i = 0; i < size; i++) {
    const parents = new Set<number>();
    if (i > 0) {
      const wanted = Math.min(i, 1 + Math.floor(random() * 3));
      while (parents.size < wanted) parents.add(i - 1 - Math.floor(random() * Math.min(i, WINDOW)));
    }
    jobs.push({ jobId: graphJobId(i), parentIds: [...parents].sort((a, b) => a - b).map(graphJobId) });
  }
  return jobs;
}

/** count distinct indexes in [from, to), chosen with the seeded generator. */
export function sampleIndexes(count: number, from: number, to: number, seed: number): number[] {
  const random = mulberry32(seed);
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, to - from)) chosen.add(from + Math.floor(random() * (to - from)));
  return [...chosen];
}
