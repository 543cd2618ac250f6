import type { JobQueue, QueueDelivery, QueueDepth } from '../../domain/ports/job-queue.js';
import { closedAdapter } from './closed.js';

/** How a memory queue retries: as many more times as retries, the first after backoffMs, each later one twice as late. */
export interface MemoryQueueTuning {
  retries: number;
  backoffMs: number;
}

interface ActiveDelivery {
  /** The queue whose worker runs it. */
  worker: MemoryJobQueue;
  controller: AbortController;
}

/**
 * The jobs of one namespace, shared by every queue opened on it (as the
 * processes of a deployment share one bee-queue on Redis): each id is
 * waiting, delayed (a retry's backoff) or active, at most once.
 */
export class MemoryJobBoard {
  readonly waiting: string[] = [];
  readonly delayed = new Map<string, ReturnType<typeof setTimeout>>();
  readonly active = new Map<string, ActiveDelivery>();
  /** Deliveries that failed so far, per id held. */
  readonly failures = new Map<string, number>();
  /** Queues taking jobs, in the order they started. */
  readonly workers = new Set<MemoryJobQueue>();

  holds(jobId: string): boolean {
    return this.waiting.includes(jobId) || this.delayed.has(jobId) || this.active.has(jobId);
  }

  /** Hands waiting ids to the workers that have room. */
  dispatch(): void {
    for (const worker of this.workers) worker.take();
  }
}

/**
 * JobQueue in the process's memory, for unit tests of the use cases; it
 * passes the job queue conformance suite. Deliveries start in a later turn
 * of the event loop than enqueue, as with a real queue. Retry backoffs are
 * the only timers, and they do not keep the process alive. A worker cannot
 * die apart from its process here, so a delivery still running when close()
 * gives up is handed out again at once (a real queue waits for its lock to
 * lapse). Once closed, every call but close fails UNAVAILABLE.
 */
export class MemoryJobQueue implements JobQueue {
  private run: ((delivery: QueueDelivery) => Promise<void>) | undefined;
  private concurrency = 0;
  private readonly running = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly tuning: MemoryQueueTuning = { retries: 0, backoffMs: 1000 },
    private readonly board = new MemoryJobBoard(),
  ) {}

  async enqueue(jobId: string): Promise<void> {
    this.open();
    if (this.board.holds(jobId)) return;
    this.board.waiting.push(jobId);
    this.board.failures.set(jobId, 0);
    queueMicrotask(() => this.board.dispatch());
  }

  async enqueueAll(jobIds: readonly string[]): Promise<Array<Error | undefined>> {
    this.open();
    for (const jobId of jobIds) await this.enqueue(jobId);
    return jobIds.map(() => undefined);
  }

  async holding(jobIds: readonly string[]): Promise<Set<string>> {
    this.open();
    return new Set(jobIds.filter((jobId) => this.board.holds(jobId)));
  }

  async cancel(jobId: string): Promise<void> {
    this.open();
    const { board } = this;
    const at = board.waiting.indexOf(jobId);
    if (at >= 0) board.waiting.splice(at, 1);
    clearTimeout(board.delayed.get(jobId));
    board.delayed.delete(jobId);
    const active = board.active.get(jobId);
    // Taken out first, so that the delivery's end, however it ends, schedules no retry.
    board.active.delete(jobId);
    board.failures.delete(jobId);
    active?.controller.abort(abortReason(`job ${jobId} was cancelled`));
  }

  process(concurrency: number, run: (delivery: QueueDelivery) => Promise<void>): void {
    this.open();
    this.run = run;
    this.concurrency = concurrency;
    this.board.workers.add(this);
    queueMicrotask(() => this.board.dispatch());
  }

  /** Always connected: a listener is called once, right after it is added. */
  onReady(listener: () => void): void {
    queueMicrotask(() => {
      if (!this.closing) listener();
    });
  }

  async depth(): Promise<QueueDepth> {
    this.open();
    const { waiting, active, delayed } = this.board;
    return { waiting: waiting.length, active: active.size, delayed: delayed.size };
  }

  async ping(): Promise<void> {
    this.open();
  }

  close(timeoutMs: number): Promise<void> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  /** Starts deliveries of waiting ids while this worker has room. */
  take(): void {
    const { board } = this;
    while (this.run && !this.closing && this.running.size < this.concurrency && board.waiting.length > 0) {
      const jobId = board.waiting.shift()!;
      const delivery: ActiveDelivery = { worker: this, controller: new AbortController() };
      board.active.set(jobId, delivery);
      const finalAttempt = (board.failures.get(jobId) ?? 0) >= this.tuning.retries;
      const running = this.deliver(jobId, finalAttempt, delivery);
      this.running.add(running);
      void running.finally(() => {
        this.running.delete(running);
        board.dispatch();
      });
    }
  }

  /** Runs one delivery; its outcome counts only while it is still the id's active delivery (not cancelled, not handed out again). */
  private async deliver(jobId: string, finalAttempt: boolean, delivery: ActiveDelivery): Promise<void> {
    let failed = false;
    try {
      await this.run!({ jobId, finalAttempt, signal: delivery.controller.signal });
    } catch {
      failed = true;
    }
    const { board } = this;
    if (board.active.get(jobId) !== delivery) return;
    board.active.delete(jobId);
    if (!failed || finalAttempt) {
      board.failures.delete(jobId);
      return;
    }
    const failures = (board.failures.get(jobId) ?? 0) + 1;
    board.failures.set(jobId, failures);
    const timer = setTimeout(() => {
      board.delayed.delete(jobId);
      board.waiting.push(jobId);
      board.dispatch();
    }, this.tuning.backoffMs * 2 ** (failures - 1));
    timer.unref();
    board.delayed.set(jobId, timer);
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.board.workers.delete(this);
    const running = Promise.all(this.running);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = await Promise.race([
      running.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!gaveUp) return;
    // The deliveries still running are told to stop, and their jobs go back to waiting for another worker.
    for (const [jobId, delivery] of [...this.board.active]) {
      if (delivery.worker !== this) continue;
      this.board.active.delete(jobId);
      this.board.waiting.unshift(jobId);
      delivery.controller.abort(abortReason(`the worker stopped before job ${jobId} finished`));
    }
    this.board.dispatch();
  }

  private open(): void {
    if (this.closing) throw closedAdapter('job queue', 'QUEUE_UNAVAILABLE');
  }
}

function abortReason(message: string): Error {
  const reason = new Error(message);
  reason.name = 'AbortError';
  return reason;
}
