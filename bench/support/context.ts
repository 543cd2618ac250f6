import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteQueueKeys } from '../../test/support/redis.js';
import { startServer, type ServerProcess } from '../../test/support/server-process.js';
import { formatLine, type Figure, type Measurement } from './figures.js';
import { generateGraph, type GraphJob } from './graph.js';
import { recordGraph } from './record-graph.js';
import { elapsedMs } from './stats.js';

/** The sizes of issues #7, #15 and #18, and the smoke sizes `npm test` runs them at to keep the bench working. */
export interface Sizes {
  graph: number;
  lineageRoots: number;
  /** GetLineage calls per case (cycling over the roots): enough for a p99 at full size (stats.ts, P99_MIN_SAMPLES). */
  lineageSamples: number;
  /** Processes the unary load and the WatchEvents subscribers are spread over, so that no one client process bounds a side. */
  clientProcesses: number;
  /** Passes of the deliveries figure, each ours then the baseline; the median of each side is reported. */
  deliveryPasses: number;
  unaryCalls: number;
  unaryInFlight: number;
  executionJobs: number;
  executionConcurrency: number[];
  subscribers: number;
  events: number;
  latencyEventsPerSecond: number;
  latencyEvents: number;
  growth: number[];
  leakSubscribeCycles: number;
  leakLineageCalls: number;
  /** The leak work is split into this many rounds, memory read after each (after forced collections), and a line fitted. */
  leakRounds: number;
}

export const FULL_SIZES: Sizes = {
  graph: 100_000,
  lineageRoots: 20,
  lineageSamples: 100,
  clientProcesses: 4,
  deliveryPasses: 3,
  unaryCalls: 30_000,
  unaryInFlight: 64,
  executionJobs: 10_000,
  executionConcurrency: [10, 50],
  subscribers: 100,
  events: 10_000,
  latencyEventsPerSecond: 1000,
  latencyEvents: 10_000,
  growth: [1_000, 10_000, 100_000],
  leakSubscribeCycles: 1000,
  leakLineageCalls: 10_000,
  leakRounds: 10,
};

export const SMOKE_SIZES: Sizes = {
  graph: 2_000,
  lineageRoots: 3,
  lineageSamples: 6,
  clientProcesses: 2,
  deliveryPasses: 1,
  unaryCalls: 500,
  unaryInFlight: 8,
  executionJobs: 100,
  executionConcurrency: [10],
  subscribers: 4,
  events: 100,
  latencyEventsPerSecond: 200,
  latencyEvents: 100,
  growth: [500, 2_000],
  leakSubscribeCycles: 20,
  leakLineageCalls: 100,
  leakRounds: 4,
};

/** With BENCH_CPU_PROFILE_DIR set, every server the bench starts writes a V8 CPU profile there when it stops (see bench/README.md). */
function serverNodeOptions(): string[] {
  const directory = process.env.BENCH_CPU_PROFILE_DIR;
  return directory ? ['--cpu-prof', `--cpu-prof-dir=${directory}`] : [];
}

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The allocator settings `npm start` gives the server (package.json; README, "Memory"), so that the bench measures the server as it runs. */
const START_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };

/** What every scenario gets: sizes, a scratch folder, servers and Redis prefixes that are cleaned up, and the report. */
export class BenchContext {
  readonly directory = mkdtempSync(join(tmpdir(), 'provenance-bench-'));
  readonly results: Array<Figure | Measurement> = [];
  private readonly runPrefix = `provbench:${process.pid}:${randomBytes(4).toString('hex')}`;
  private prefixCount = 0;
  private readonly prefixes: string[] = [];
  private readonly processes = new Set<ServerProcess>();
  private readonly graphs = new Map<number, GraphJob[]>();
  private readonly graphDatabases = new Map<number, Promise<string>>();
  /** How long recording each graph through BatchRecordJobs took, in seconds, for the load rate of the growth scenario. */
  private readonly graphLoadSeconds = new Map<number, number>();

  constructor(
    readonly sizes: Sizes,
    readonly smoke: boolean,
    private readonly print: (line: string) => void = console.log,
    /** The MongoDB server of the Mongo lane; without one, lineage-mongo is skipped. */
    readonly mongoUri: string | undefined = process.env.MONGODB_URI || undefined,
  ) {}

  /** A Redis key prefix of its own, deleted at the end of the run. */
  redisPrefix(): string {
    const prefix = `${this.runPrefix}:${++this.prefixCount}`;
    this.prefixes.push(prefix);
    return prefix;
  }

  /** A server as `npm start` runs it, with lineage depth enough for the whole graph; stopped at the end. nodeOptions go to node before the script. */
  async startServer(env: Record<string, string | undefined> = {}, nodeOptions: string[] = []): Promise<ServerProcess> {
    const defaults = {
      ...START_MALLOC_ENV,
      PROVENANCE_MAX_LINEAGE_DEPTH: '10000',
      PROVENANCE_SQLITE_PATH: join(this.directory, `server-${randomBytes(4).toString('hex')}.db`),
      PROVENANCE_REDIS_PREFIX: this.redisPrefix(),
    };
    return this.track(await startServer({ ...defaults, ...env }, [...serverNodeOptions(), ...nodeOptions]));
  }

  async stop(server: ServerProcess): Promise<void> {
    this.processes.delete(server);
    await server.stop();
  }

  /** The seeded graph of that many jobs (sizes.graph by default). */
  graph(size = this.sizes.graph): GraphJob[] {
    let jobs = this.graphs.get(size);
    if (!jobs) this.graphs.set(size, (jobs = generateGraph(size)));
    return jobs;
  }

  /** A SQLite file holding the graph of that size, recorded through BatchRecordJobs once per run and shared by the scenarios. */
  graphDatabase(size = this.sizes.graph): Promise<string> {
    let path = this.graphDatabases.get(size);
    if (!path) {
      path = this.buildGraphDatabase(size);
      this.graphDatabases.set(size, path);
    }
    return path;
  }

  /** Lets a scenario that recorded the graph anyway (batch ingest) hand its file, and the seconds recording took, to the others. */
  offerGraphDatabase(size: number, path: string, loadSeconds: number): void {
    if (this.graphDatabases.has(size)) return;
    this.graphDatabases.set(size, Promise.resolve(path));
    this.graphLoadSeconds.set(size, loadSeconds);
  }

  /** Seconds recording the graph of that size through BatchRecordJobs took (once graphDatabase(size) has resolved). */
  graphLoadTime(size: number): number {
    const seconds = this.graphLoadSeconds.get(size);
    if (seconds === undefined) throw new Error(`the graph of ${size} jobs has not been recorded`);
    return seconds;
  }

  report(entry: Figure | Measurement): void {
    this.results.push(entry);
    this.print(formatLine(entry));
  }

  note(line: string): void {
    this.print(line);
  }

  async close(): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.stop('SIGKILL')));
    for (const prefix of this.prefixes) await deleteQueueKeys(prefix, REDIS_URL);
    rmSync(this.directory, { recursive: true, force: true });
  }

  private async buildGraphDatabase(size: number): Promise<string> {
    const path = join(this.directory, `graph-${size}.db`);
    const server = await this.startServer({ PROVENANCE_SQLITE_PATH: path });
    try {
      const jobs = this.graph(size);
      const start = process.hrtime.bigint();
      await recordGraph(server.address, jobs);
      this.graphLoadSeconds.set(size, elapsedMs(start) / 1000);
    } finally {
      await this.stop(server);
    }
    return path;
  }

  private track(server: ServerProcess): ServerProcess {
    this.processes.add(server);
    return server;
  }
}

/** One scenario of issue #7. */
export interface Scenario {
  name: string;
  run(context: BenchContext): Promise<void>;
}
