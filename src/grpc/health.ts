import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/** The services whose health is reported: '' is the server as a whole (grpc.health.v1). */
const REPORTED_SERVICES = ['', 'provenance.v1.ProvenanceService'];

/**
 * grpc.health.v1.Health, SERVING only while the store answers and loads
 * nothing in the background. It starts NOT_SERVING, is re-checked every
 * interval and as soon as a background load ends, and goes NOT_SERVING for
 * good once shutdown begins. One check runs at a time: a store that is slow
 * to fail (a ping waits up to PROVENANCE_STORE_TIMEOUT_MS) would otherwise
 * have checks overlap, and an older one ending last would overwrite a newer
 * answer. A check asked for while one runs is made once that one ends.
 */
export class ServingHealth {
  readonly implementation = new HealthImplementation(Object.fromEntries(REPORTED_SERVICES.map((name) => [name, 'NOT_SERVING'])));
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private awaitedLoad: Promise<void> | undefined;
  private running: Promise<void> | undefined;
  private checkAgain = false;

  constructor(
    private readonly isReady: () => Promise<boolean>,
    private readonly backgroundLoad: () => Promise<void> | undefined = () => undefined,
  ) {}

  /** Checks now, then every intervalMs. */
  async start(intervalMs: number): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.set('NOT_SERVING');
  }

  /** Checks now, or once the check running now ends; settles when the status is set. */
  check(): Promise<void> {
    if (this.running) {
      this.checkAgain = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.checkAgain = false;
          await this.checkOnce();
        } while (this.checkAgain);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async checkOnce(): Promise<void> {
    const ready = await this.isReady().catch(() => false);
    if (!this.stopped) this.set(ready ? 'SERVING' : 'NOT_SERVING');
    const load = this.backgroundLoad();
    if (load && load !== this.awaitedLoad) {
      this.awaitedLoad = load;
      void load.then(() => this.check());
    }
  }

  private set(status: ServingStatus): void {
    for (const name of REPORTED_SERVICES) this.implementation.setStatus(name, status);
  }
}
