import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { WalIndexReader, wantsCheckpoint, type CheckpointWorkerData } from './wal-checkpoint-thread.js';

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

parentPort!.on('message', () => {
  if (scheduled) return;
  scheduled = true;
  // After every message already queued: those that came during a checkpoint ask for one more, not one each.
  setImmediate(checkpoint);
});

function checkpoint(): void {
  scheduled = false;
  // Opened for each ask (they are rare) rather than kept: a thread that ends on an error leaves no descriptor open.
  const walIndex = new WalIndexReader(path);
  const wanted = wantsCheckpoint(walIndex.read());
  walIndex.close();
  if (!wanted) return;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // Another connection's checkpoint under way (the serving connection's past its threshold, another process's): the next ask copies what it left.
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
  }
}
