import type { JobQueue } from '../../domain/ports/job-queue.js';
import { TurnBatches } from '../turn-batches.js';

/** As many ids as the largest group-commit batch of submitted jobs, whose enqueues follow it. */
const MAX_BATCH = 1000;

const batchesByQueue = new WeakMap<JobQueue, TurnBatches<string, Error | undefined>>();

/**
 * JobQueue.enqueue, with the enqueues asked for in one turn of the event
 * loop (those of a group-committed batch of submissions, for one) made in
 * one enqueueAll: one round trip to the queue for all of them. Each caller
 * still gets its own outcome: the refusal of one id fails that id only.
 */
export async function enqueueBatched(queue: JobQueue, jobId: string): Promise<void> {
  let batches = batchesByQueue.get(queue);
  if (!batches) {
    batches = new TurnBatches((jobIds) => queue.enqueueAll(jobIds), MAX_BATCH);
    batchesByQueue.set(queue, batches);
  }
  const refused = await batches.add(jobId, jobId);
  if (refused) throw refused;
}
