import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointWorkerData } from './wal-checkpoint-thread.js';

/**
 * The checkpoint thread (wal-checkpoint-thread.ts starts it): a connection
 * of its own that runs a PASSIVE checkpoint after the serving thread's
 * writes, one for all the nudges that came in meanwhile, at most one per
 * minIntervalMs. PASSIVE copies what no reader still needs and waits for
 * nobody, so it never holds a writer; what it leaves is copied by the next.
 */
const { path, busyTimeoutMs, minIntervalMs } = workerData as CheckpointWorkerData;
const db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs });
let scheduled = false;
let lastStart = 0;

parentPort!.on('message', () => {
  if (scheduled) return;
  scheduled = true;
  setTimeout(checkpoint, Math.max(0, lastStart + minIntervalMs - Date.now()));
});

function checkpoint(): void {
  scheduled = false;
  lastStart = Date.now();
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // Another connection's checkpoint under way (the serving connection's past its threshold, another process's): the next nudge copies what it left.
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
  }
}
