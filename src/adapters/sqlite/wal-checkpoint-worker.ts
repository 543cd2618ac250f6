import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { walState, wantsCheckpoint, type CheckpointWorkerData } from './wal-checkpoint-thread.js';

/**
 * The checkpoint thread (wal-checkpoint-thread.ts starts it): a connection
 * of its own that runs a PASSIVE checkpoint when the serving thread asks,
 * one for all the asks that came in meanwhile, and only if the WAL still
 * wants one (a checkpoint or a restart of the WAL may have come between).
 * PASSIVE copies what no reader still needs and waits for nobody, so it
 * never holds a writer; what it leaves is copied by the next.
 */
const { path, busyTimeoutMs } = workerData as CheckpointWorkerData;
const db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs });
let scheduled = false;

/**
 * After a checkpoint that a reader's snapshot stopped short (the graph's
 * load holds one for its whole load), the next try: asks come only with
 * writes, and without one the WAL stayed uncopied until the next write.
 */
const RETRY_STOPPED_CHECKPOINT_MS = 1000;
let retry: NodeJS.Timeout | undefined;

parentPort!.on('message', () => {
  if (scheduled) return;
  scheduled = true;
  // After every message already queued: those that came during a checkpoint ask for one more, not one each.
  setImmediate(checkpoint);
});

function checkpoint(): void {
  scheduled = false;
  clearTimeout(retry);
  retry = undefined;
  try {
    if (!wantsCheckpoint(walState(db))) return;
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
    if (result && result.checkpointed < result.log) retry = setTimeout(checkpoint, RETRY_STOPPED_CHECKPOINT_MS);
  } catch (error) {
    // Another connection's checkpoint under way (the serving connection's past its threshold, another process's): the next ask copies what it left.
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
  }
}
