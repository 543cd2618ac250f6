import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

export interface CheckpointWorkerData {
  path: string;
  busyTimeoutMs: number;
}

const WORKER_URL = new URL('./wal-checkpoint-worker.js', import.meta.url);

/**
 * The WAL size, in pages, past which a write asks the thread for a
 * checkpoint: SQLite's default automatic checkpoint threshold, so that the
 * checkpoints come as often and are as large as the serving connection's
 * own would be, and the WAL stays as short for readers.
 */
export const CHECKPOINT_PAGES = 1000;

/**
 * What the serving connection still checkpoints by itself, as a safety net
 * should the thread fall behind (blocked by a reader's snapshot, or
 * stopped): four times CHECKPOINT_PAGES.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 4 * CHECKPOINT_PAGES;

/** The frames in the WAL and how many of them a checkpoint copied, as SQLite reports them. */
export interface WalState {
  frames: number;
  copied: number;
}

/**
 * The WAL's state through the connection: a NOOP checkpoint (SQLite 3.51
 * and later; better-sqlite3 12 bundles 3.53) copies nothing, takes no lock,
 * and returns the two counts. Not by reading the -shm file: a descriptor of
 * it opened and closed outside SQLite releases every POSIX lock this
 * process holds on it, the WAL write lock included, so that another
 * process could write at the same time as this one and one of the two
 * writes was lost (docs/decisions.md, "The WAL's state through SQLite").
 */
export function walState(db: Database.Database): WalState | undefined {
  const [result] = db.pragma('wal_checkpoint(NOOP)') as Array<{ busy: number; log: number; checkpointed: number }>;
  // log is -1 when the connection is not in WAL mode.
  return result && result.log >= 0 ? { frames: result.log, copied: result.checkpointed } : undefined;
}

/** True when the WAL has as many pages as SQLite's automatic checkpoint would copy, and not all of them are copied yet. */
export function wantsCheckpoint(wal: WalState | undefined): boolean {
  return wal !== undefined && wal.frames >= CHECKPOINT_PAGES && wal.copied < wal.frames;
}

/**
 * WAL checkpoints of a database file on a thread of their own
 * (wal-checkpoint-worker.ts), at the cadence of SQLite's automatic
 * checkpoint but off the serving thread: that one runs inside the COMMIT of
 * whichever write takes the WAL past 1,000 pages, copying the WAL into the
 * database and syncing both while the write's caller waits
 * (docs/decisions.md, "SQLite: checkpoints on a thread of their own, at
 * SQLite's cadence"). The serving connection calls written() after each
 * write transaction; when the WAL holds CHECKPOINT_PAGES pages not all
 * copied, the thread runs a PASSIVE checkpoint (it never waits for a writer
 * or a reader). A thread that dies is started again.
 */
export class WalCheckpointThread {
  private worker!: Worker;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly busyTimeoutMs: number,
    /** The serving connection, whose writes ask for checkpoints. */
    private readonly serving: Database.Database,
  ) {
    this.start();
  }

  written(): void {
    if (!this.closed && wantsCheckpoint(walState(this.serving))) this.worker.postMessage(0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.terminate();
  }

  private start(): void {
    const data: CheckpointWorkerData = { path: this.path, busyTimeoutMs: this.busyTimeoutMs };
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
