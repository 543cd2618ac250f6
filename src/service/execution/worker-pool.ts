import { ProvenanceError } from '../../domain/errors.js';
import type { JobQueue } from '../../domain/ports/job-queue.js';
import type { ProvenanceService, ServiceLog } from '../provenance-service.js';
import { RetryableAttemptError } from './run-job.js';

export interface WorkerPoolOptions {
  concurrency: number;
  /** 0: the repair sweep runs only at start and when the queue reconnects. */
  repairIntervalMs: number;
}

/** Takes deliveries from the queue and runs them through the service, and keeps queue and records in step. */
export class WorkerPool {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly queue: JobQueue,
    private readonly service: Pick<ProvenanceService, 'runDelivery' | 'repairSweep'>,
    private readonly log: ServiceLog,
    private readonly options: WorkerPoolOptions,
  ) {}

  start(): void {
    this.queue.process(this.options.concurrency, (delivery) =>
      this.service.runDelivery(delivery).catch((error: unknown) => {
        if (error instanceof RetryableAttemptError) this.log.warn({ jobId: delivery.jobId, reason: error.message }, 'attempt failed; the queue retries it');
        else this.log.error({ err: error, jobId: delivery.jobId }, 'delivery failed');
        throw error;
      }),
    );
    this.queue.onReady(() => void this.repair('queue connected'));
    if (this.options.repairIntervalMs > 0) {
      this.timer = setInterval(() => void this.repair('interval'), this.options.repairIntervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async repair(trigger: string): Promise<void> {
    try {
      const { enqueued } = await this.service.repairSweep();
      if (enqueued > 0) this.log.info({ trigger, enqueued }, 'repair sweep enqueued jobs the queue did not hold');
    } catch (error) {
      // Unreachable Redis or database: the outage has its own lines, and the sweep runs again when the queue reconnects.
      const message = 'repair sweep failed; it runs again on the next trigger';
      if (error instanceof ProvenanceError && error.code === 'UNAVAILABLE') this.log.debug({ err: error, trigger }, message);
      else this.log.warn({ err: error, trigger }, message);
    }
  }
}
