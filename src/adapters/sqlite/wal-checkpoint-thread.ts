import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { Worker } from 'node:worker_threads';

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

/** The frames in the WAL (mxFrame) and how many of them a checkpoint copied (nBackfill), as the WAL index says. */
export interface WalIndexHeader {
  frames: number;
  copied: number;
}

/** Of the WAL index (https://www.sqlite.org/walformat.html): mxFrame in the first header copy, nBackfill after both copies; in the machine's byte order. */
const MX_FRAME_OFFSET = 16;
const N_BACKFILL_OFFSET = 96;
const HEADER_BYTES = 100;
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Reads the WAL index header of the database at path from its -shm file,
 * which SQLite maps into memory and so shares with every connection.
 * A header read while another connection rewrites it may be stale: this
 * only decides when to checkpoint, which SQLite then does consistently.
 */
export class WalIndexReader {
  private fd: number | undefined;
  private readonly buffer = Buffer.alloc(HEADER_BYTES);

  constructor(private readonly path: string) {}

  /**
   * Undefined when there is no WAL index to read (the -shm file not there
   * yet) or it cannot be read: never an error, since the write that asks
   * has committed, and the fallback threshold checkpoints meanwhile.
   */
  read(): WalIndexHeader | undefined {
    try {
      this.fd ??= openSync(`${this.path}-shm`, 'r');
      if (readSync(this.fd, this.buffer, 0, HEADER_BYTES, 0) < HEADER_BYTES) return undefined;
    } catch {
      return undefined;
    }
    return LITTLE_ENDIAN
      ? { frames: this.buffer.readUInt32LE(MX_FRAME_OFFSET), copied: this.buffer.readUInt32LE(N_BACKFILL_OFFSET) }
      : { frames: this.buffer.readUInt32BE(MX_FRAME_OFFSET), copied: this.buffer.readUInt32BE(N_BACKFILL_OFFSET) };
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** True when the WAL has as many pages as SQLite's automatic checkpoint would copy, and not all of them are copied yet. */
export function wantsCheckpoint(header: WalIndexHeader | undefined): boolean {
  return header !== undefined && header.frames >= CHECKPOINT_PAGES && header.copied < header.frames;
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
  private readonly walIndex: WalIndexReader;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly busyTimeoutMs: number,
  ) {
    this.walIndex = new WalIndexReader(path);
    this.start();
  }

  written(): void {
    if (!this.closed && wantsCheckpoint(this.walIndex.read())) this.worker.postMessage(0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.terminate();
    this.walIndex.close();
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
