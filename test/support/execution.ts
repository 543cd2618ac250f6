import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobStatus, type Job } from '@provenance/client';
import type { Client } from './grpc-client.js';
import { startMongoLane, type MongoLane } from './mongo-lane.js';

/** Where the execution tests keep their records: a fresh SQLite file, or a fresh database on the Mongo lane. */
export interface StoreLane {
  name: string;
  /** Environment that points a server or worker process at a fresh, empty store (the same store for every call of one lane instance). */
  env(): Promise<Record<string, string>>;
  dispose(): Promise<void>;
}

export function sqliteLane(): StoreLane {
  // Made on first use: a lane asked only for its name leaves nothing behind.
  let directory: string | undefined;
  return {
    name: 'SQLite',
    env: async () => {
      directory ??= mkdtempSync(join(tmpdir(), 'provenance-exec-'));
      return { PROVENANCE_STORAGE_TYPE: 'sqlite', PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db') };
    },
    dispose: async () => {
      if (directory) rmSync(directory, { recursive: true, force: true });
    },
  };
}

export function mongoLane(): StoreLane {
  let lane: MongoLane | undefined;
  let database: string | undefined;
  return {
    name: process.env.MONGODB_URI ? 'MongoDB' : 'MongoDB emulator',
    async env() {
      lane ??= await startMongoLane();
      database ??= lane.newDatabaseName();
      return { MONGODB_URI: lane.uri, PROVENANCE_MONGODB_DATABASE: database };
    },
    dispose: async () => lane?.stop(),
  };
}

export const TRACED_HANDLERS = fileURLToPath(new URL('../../../test/fixtures/handlers/traced-handlers.mjs', import.meta.url));

/** Settings that keep the execution tests fast: quick stall checks and backoff, one retry. */
export const FAST_EXECUTION = {
  PROVENANCE_HANDLERS: TRACED_HANDLERS,
  PROVENANCE_STALL_INTERVAL_MS: '1000',
  PROVENANCE_JOB_BACKOFF_MS: '100',
  PROVENANCE_JOB_RETRIES: '1',
  PROVENANCE_WORKER_CONCURRENCY: '4',
  PROVENANCE_SHUTDOWN_GRACE_MS: '2000',
};

export interface TraceLine {
  jobId: string;
  event: 'start' | 'end';
  at: number;
}

/** A trace file that test.traced and test.counter append to. */
export class Trace {
  readonly path: string;
  private readonly directory = mkdtempSync(join(tmpdir(), 'provenance-trace-'));

  constructor() {
    this.path = join(this.directory, 'trace.jsonl');
  }

  lines(): TraceLine[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as TraceLine);
  }

  /**
   * A gate for test.traced's payload.holdUntil: runs given its path wait
   * until open() is called, so that a job is still running when the test
   * acts on it, however slow the machine.
   */
  gate(name: string): { path: string; open(): void } {
    const path = join(this.directory, `gate-${name}`);
    return { path, open: () => writeFileSync(path, '') };
  }

  starts(jobId: string): number {
    return this.lines().filter((l) => l.jobId === jobId && l.event === 'start').length;
  }

  dispose(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}

const TERMINAL = new Set([JobStatus.JOB_STATUS_SUCCEEDED, JobStatus.JOB_STATUS_FAILED, JobStatus.JOB_STATUS_CANCELLED]);

/** Reads the job until it satisfies done (default: a terminal status), for up to timeoutMs. */
export async function waitForJob(api: Client, jobId: string, done: (job: Job) => boolean = (job) => TERMINAL.has(job.status), timeoutMs = 20_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await api.getJob({ jobId });
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not get there within ${timeoutMs} ms; it is ${JobStatus[job.status]}: ${JSON.stringify(job.error)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
