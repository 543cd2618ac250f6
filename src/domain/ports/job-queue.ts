/**
 * Where submitted jobs wait for a worker. Adapter: queue/bee-queue-job-queue
 * (bee-queue on Redis); test/conformance/job-queue.ts is the suite every
 * adapter must pass.
 *
 * The queue carries job ids only: the provenance record is the truth, and
 * the queue is a list of work to do. Delivery is at least once (a worker
 * that dies mid-job, or a queue that lost its data, hands the job out
 * again), so processing must look at the record before it acts.
 *
 * Adapters translate "the queue cannot be reached right now" into
 * ProvenanceError UNAVAILABLE.
 */
export interface JobQueue {
  /** Adds a job id unless it is already waiting, delayed or active; resolves once the queue holds it. */
  enqueue(jobId: string): Promise<void>;

  /**
   * enqueue of each id, in one round trip to the queue where it allows:
   * resolves with, per id in order, undefined once the queue holds it, or the
   * error that kept it out. Rejects only when it could try none (the queue is
   * closed, say).
   */
  enqueueAll(jobIds: readonly string[]): Promise<Array<Error | undefined>>;

  /** Those of jobIds that the queue holds (waiting, delayed or active). */
  holding(jobIds: readonly string[]): Promise<Set<string>>;

  /** Takes a waiting job id out of the queue, and aborts it wherever a worker runs it. */
  cancel(jobId: string): Promise<void>;

  /**
   * Starts taking jobs, at most concurrency at a time, until close(). A
   * delivery that rejects is retried with backoff while retries remain
   * (QueueDelivery.finalAttempt says whether one does); a worker that stops
   * renewing its lock is presumed dead, and its job is delivered again.
   */
  process(concurrency: number, run: (delivery: QueueDelivery) => Promise<void>): void;

  /** Called each time the connection to the queue is (re-)established: work may have been lost meanwhile. */
  onReady(listener: () => void): void;

  /** How many jobs the queue holds now, across every process that shares it. */
  depth(): Promise<QueueDepth>;

  ping(): Promise<void>;

  /**
   * Stops taking jobs, waits up to timeoutMs for running ones, then aborts
   * the signals of those still running (their jobs are delivered again
   * elsewhere once their locks lapse), and disconnects.
   */
  close(timeoutMs: number): Promise<void>;
}

export interface QueueDelivery {
  jobId: string;
  /** True when no retry remains after this delivery. */
  finalAttempt: boolean;
  /** Aborted when the job is cancelled (JobQueue.cancel) or the worker shuts down. */
  signal: AbortSignal;
}

export interface QueueDepth {
  /** Waiting for a worker. */
  waiting: number;
  /** Taken by a worker and running. */
  active: number;
  /** Waiting for the backoff of a retry to pass. */
  delayed: number;
}
