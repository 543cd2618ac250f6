import { expect } from 'chai';
import { ServingHealth } from '../../src/grpc/health.js';
import { healthRoutes } from '../../src/http/routes/health.js';
import { until } from '../support/waits.js';

/** The status grpc.health.v1.Health/Check answers for the whole server, through the handlers the implementation registers. */
function checker(health: ServingHealth): () => Promise<string> {
  let check!: (call: { request: { service: string } }, callback: (error: unknown, response?: { status: string | number }) => void) => void;
  health.implementation.addToServer({ addService: (_definition: unknown, handlers: { check: typeof check }) => (check = handlers.check) } as never);
  return () =>
    new Promise((resolve, reject) =>
      check({ request: { service: '' } }, (error, response) => (error ? reject(error as Error) : resolve(String(response!.status)))),
    );
}

describe('readiness while the store loads in the background', () => {
  it('/readyz answers 503 naming the load and its progress, then 200', async () => {
    let checks: Record<string, boolean | string> = { store: true, queue: true, lineageGraph: 'loading: 2,000 of 1,000,000 jobs' };
    const readyz = healthRoutes({ readiness: async () => checks }).find((route) => route.path === '/readyz')!;
    const loading = await readyz.handle({} as never, {} as never);
    expect(loading.status).to.equal(503);
    expect(JSON.parse(String(loading.body))).to.deep.equal({
      ready: false,
      checks: { store: 'ok', queue: 'ok', lineageGraph: 'loading: 2,000 of 1,000,000 jobs' },
    });
    checks = { store: true, queue: true };
    const loaded = await readyz.handle({} as never, {} as never);
    expect(loaded.status).to.equal(200);
    expect(JSON.parse(String(loaded.body))).to.deep.equal({ ready: true, checks: { store: 'ok', queue: 'ok' } });
  });

  it('/readyz answers the requests that arrive while a check runs with that check, and checks again after it', async () => {
    let checks = 0;
    let answer!: (checked: Record<string, boolean | string>) => void;
    const readyz = healthRoutes({
      readiness: () => {
        checks++;
        return new Promise((resolve) => (answer = resolve));
      },
    }).find((route) => route.path === '/readyz')!;
    const flood = Array.from({ length: 50 }, () => readyz.handle({} as never, {} as never));
    expect(checks).to.equal(1);
    answer({ store: true, queue: false });
    const answers = await Promise.all(flood);
    expect(new Set(answers.map((answered) => `${answered.status} ${String(answered.body)}`)).size).to.equal(1);
    expect(answers[0]!.status).to.equal(503);
    const later = readyz.handle({} as never, {} as never);
    expect(checks).to.equal(2);
    answer({ store: true, queue: true });
    expect((await later).status).to.equal(200);
  });

  it('gRPC health says NOT_SERVING while the load runs and SERVING as soon as it ends, not at the next interval', async () => {
    let loaded = false;
    let endLoad!: () => void;
    const load = new Promise<void>((resolve) => (endLoad = resolve)).then(() => void (loaded = true));
    const health = new ServingHealth(async () => loaded, () => (loaded ? undefined : load));
    const status = checker(health);
    await health.start(600_000);
    try {
      expect(await status()).to.match(/NOT_SERVING|^2$/);
      endLoad();
      await until(async () => /^SERVING$|^1$/.test(await status()), 'SERVING once the load ended');
    } finally {
      health.stop();
    }
  });

  it('runs one check at a time, so that a slow check ending last cannot overwrite a newer answer', async () => {
    const pings: Array<(ready: boolean) => void> = [];
    const health = new ServingHealth(() => new Promise<boolean>((resolve) => pings.push(resolve)));
    const status = checker(health);
    const started = health.start(600_000);
    // The store is slow to fail: the first ping waits while two more checks are asked for.
    const asked = [health.check(), health.check()];
    expect(pings).to.have.length(1);
    pings[0]!(false);
    await until(() => pings.length === 2, 'the checks asked for meanwhile to be made, as one');
    expect(await status()).to.match(/NOT_SERVING|^2$/);
    pings[1]!(true);
    await Promise.all([started, ...asked]);
    expect(pings).to.have.length(2);
    expect(await status()).to.match(/^SERVING$|^1$/);
    health.stop();
  });
});
