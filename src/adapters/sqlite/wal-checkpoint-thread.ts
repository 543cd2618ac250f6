import { Worker } from 'node:worker_threads';

export interface CheckpointWorkerData {
  path: string;
  busyTimeoutMs: number;
  /** The least time from the start of one checkpoint to the start of the next. */
  minIntervalMs: number;
}

const WORKER_URL = new URL('./wal-checkpoint-worker.js', import.meta.url);

/** At most this many checkpoints a second: each syncs the WAL and the database file. */
const MIN_CHECKPOINT_INTERVAL_MS = 100;

/**
 * What the serving connection still checkpoints by itself, as a safety net
 * should the thread fall behind (blocked by a reader's snapshot, or
 * stopped): ten times SQLite's default of 1,000 pages.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;

/**
 * WAL checkpoints of a database file on a thread of their own
 * (wal-checkpoint-worker.ts), so that copying the WAL into the database and
 * the two syncs of each checkpoint do not hold the serving thread's writes:
 * SQLite's automatic checkpoint runs inside the COMMIT of whichever write
 * crosses its threshold (docs/decisions.md, "SQLite: checkpoints on a thread
 * of their own"). The serving connection calls nudge() after each write
 * transaction; the thread runs a PASSIVE checkpoint (it never waits for a
 * writer or a reader) soon after, at most one per MIN_CHECKPOINT_INTERVAL_MS.
 * A thread that dies is started again.
 */
export class WalCheckpointThread {
  private worker!: Worker;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly busyTimeoutMs: number,
  ) {
    this.start();
  }

  nudge(): void {
    if (!this.closed) this.worker.postMessage(0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.terminate();
  }

  private start(): void {
    const data: CheckpointWorkerData = { path: this.path, busyTimeoutMs: this.busyTimeoutMs, minIntervalMs: MIN_CHECKPOINT_INTERVAL_MS };
    const worker = new Worker(WORKER_URL, { workerData: data });
    this.worker = worker;
    // Checkpoints never keep the process alive.
    worker.unref();
    // A failed open or checkpoint ends the thread; the fallback threshold checkpoints meanwhile.
    worker.on('error', () => {});
    worker.on('exit', () => {
      if (!this.closed) setTimeout(() => this.closed || this.start(), 1000).unref();
    });
  }
}
