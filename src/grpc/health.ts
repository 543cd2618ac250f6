import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/** The services whose health is reported: '' is the server as a whole (grpc.health.v1). */
const REPORTED_SERVICES = ['', 'provenance.v1.ProvenanceService'];

/**
 * grpc.health.v1.Health, SERVING only while the store answers and loads
 * nothing in the background. It starts NOT_SERVING, is re-checked every
 * interval and as soon as a background load ends, and goes NOT_SERVING for
 * good once shutdown begins.
 */
export class ServingHealth {
  readonly implementation = new HealthImplementation(Object.fromEntries(REPORTED_SERVICES.map((name) => [name, 'NOT_SERVING'])));
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private awaitedLoad: Promise<void> | undefined;

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

  private async check(): Promise<void> {
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
