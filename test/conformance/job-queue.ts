import { expect } from 'chai';
import type { JobQueue, QueueDelivery } from '../../src/domain/ports/job-queue.js';
import { rejection, sleep, until } from '../support/waits.js';

/**
 * How much earlier than its delay, by Date.now(), a timer may fire: Node
 * counts a timer's delay from the event loop's clock, read when the loop
 * turned, so one set late in a long turn (or in one the process was
 * descheduled in) fires that much early (a 200 ms wait once measured 199).
 * A quarter of the test's backoff: the waits still show that each retry
 * waits about twice as long as the one before.
 */
const CLOCK_SLACK_MS = 25;

/**
 * The one suite every JobQueue adapter must pass. Each adapter has a runner
 * (*.test.ts) that builds a harness and calls runJobQueueConformance.
 */

/** What an adapter needs to know to behave as a test expects; every adapter has these three notions. */
export interface QueueTuning {
  /** How many more times a rejected delivery is tried. */
  retries: number;
  /** Wait before the first retry; later ones wait longer. */
  backoffMs: number;
  /** How long a worker may go silent before its job is handed out again. */
  stallIntervalMs: number;
}

export interface JobQueueHarness {
  name: string;
  /** A namespace no other test uses. Queues opened on one namespace share their jobs, as the processes of one deployment do. */
  newNamespace(): string;
  open(namespace: string, tuning: QueueTuning): Promise<JobQueue>;
  /** Deletes what the suite stored and releases what the harness holds (called once, after all tests, with every queue closed). */
  dispose(): Promise<void>;
}

const TUNING: QueueTuning = { retries: 2, backoffMs: 50, stallIntervalMs: 500 };
const CLOSE_TIMEOUT_MS = 2000;
/**
 * A job enqueued after the ones under test: a queue hands waiting jobs out
 * in the order they came, so once the marker is delivered, a delivery that
 * must not come would have come. Tests wait for it instead of for a time.
 */
const MARKER = 'marker';

/** Registers the suite. It closes the queues it opened after each test, then calls harness.dispose() once, after all its tests. */
export function runJobQueueConformance(harness: JobQueueHarness): void {
  describe(`JobQueue conformance: ${harness.name}`, function () {
    this.timeout(20_000);
    let opened: JobQueue[] = [];
    async function open(namespace: string, tuning: QueueTuning = TUNING): Promise<JobQueue> {
      const queue = await harness.open(namespace, tuning);
      opened.push(queue);
      return queue;
    }

    afterEach(async () => {
      const closing = opened;
      opened = [];
      await Promise.all(closing.map((queue) => queue.close(CLOSE_TIMEOUT_MS)));
    });

    after(async () => {
      await harness.dispose();
    });

    it('answers ping, and calls an onReady listener once connected', async () => {
      const queue = await open(harness.newNamespace());
      await queue.ping();
      let calls = 0;
      queue.onReady(() => calls++);
      await until(() => calls === 1, 'the onReady call');
      // A delivery goes through every connection the queue has: each is ready by then, and a second call would have come.
      const delivered: string[] = [];
      queue.process(1, async ({ jobId }) => {
        delivered.push(jobId);
      });
      await queue.enqueue(MARKER);
      await until(() => delivered.includes(MARKER), 'the marker delivery');
      expect(calls).to.equal(1);
    });

    it('delivers every enqueued id once, whether enqueued before or after process()', async () => {
      const queue = await open(harness.newNamespace());
      const ids = Array.from({ length: 20 }, (_, i) => `job-${i}`);
      for (const id of ids.slice(0, 10)) await queue.enqueue(id);
      const deliveries: QueueDelivery[] = [];
      queue.process(4, async (delivery) => {
        deliveries.push(delivery);
      });
      await Promise.all(ids.slice(10).map((id) => queue.enqueue(id)));
      await until(() => deliveries.length >= ids.length, 'every delivery');
      await queue.enqueue(MARKER);
      await until(() => deliveries.some((d) => d.jobId === MARKER), 'the marker delivery');
      expect(deliveries.map((d) => d.jobId).sort()).to.deep.equal([...ids, MARKER].sort());
      expect(deliveries.filter((d) => d.finalAttempt || d.signal.aborted)).to.deep.equal([]);
    });

    it('does not add an id that is already waiting or running', async () => {
      const queue = await open(harness.newNamespace());
      await Promise.all([queue.enqueue('twice'), queue.enqueue('twice')]);
      await queue.enqueue('twice');
      const release = deferred();
      const delivered: string[] = [];
      queue.process(2, async ({ jobId }) => {
        delivered.push(jobId);
        await release.promise;
      });
      await until(() => delivered.length === 1, 'the delivery');
      await queue.enqueue('twice');
      release.resolve();
      await queue.enqueue(MARKER);
      await until(() => delivered.includes(MARKER), 'the marker delivery');
      expect(delivered).to.deep.equal(['twice', MARKER]);
    });

    it('enqueues several ids in one call, each once, and answers undefined for each, one already held among them', async () => {
      const queue = await open(harness.newNamespace());
      await queue.enqueue('held');
      expect(await queue.enqueueAll(['first', 'held', 'second', 'first'])).to.deep.equal([undefined, undefined, undefined, undefined]);
      expect(await queue.holding(['first', 'held', 'second'])).to.deep.equal(new Set(['first', 'held', 'second']));
      const delivered: string[] = [];
      queue.process(1, async ({ jobId }) => {
        delivered.push(jobId);
      });
      await queue.enqueue(MARKER);
      await until(() => delivered.includes(MARKER), 'the marker delivery');
      expect(delivered.sort()).to.deep.equal(['first', 'held', MARKER, 'second'].sort());
    });

    it('refuses enqueueAll with UNAVAILABLE once closed', async () => {
      const queue = await open(harness.newNamespace());
      await queue.close(CLOSE_TIMEOUT_MS);
      expect(await rejection(queue.enqueueAll(['late']))).to.have.property('code', 'UNAVAILABLE');
    });

    it('delivers an id again when it is enqueued again after its delivery finished', async () => {
      const queue = await open(harness.newNamespace());
      const delivered: string[] = [];
      queue.process(1, async ({ jobId }) => {
        delivered.push(jobId);
      });
      await queue.enqueue('again');
      await until(async () => delivered.length === 1 && (await queue.holding(['again'])).size === 0, 'the first delivery to finish');
      await queue.enqueue('again');
      await until(() => delivered.length === 2, 'the second delivery');
      expect(delivered).to.deep.equal(['again', 'again']);
    });

    it('never runs more deliveries at once than its concurrency', async () => {
      const queue = await open(harness.newNamespace());
      let running = 0;
      let peak = 0;
      let finished = 0;
      queue.process(3, async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(40);
        running--;
        finished++;
      });
      await Promise.all(Array.from({ length: 12 }, (_, i) => queue.enqueue(`busy-${i}`)));
      await until(() => finished === 12, 'every delivery to finish');
      expect(peak).to.equal(3);
    });

    it('runs as many deliveries at once as its concurrency', async () => {
      const queue = await open(harness.newNamespace());
      let running = 0;
      let peak = 0;
      let finished = 0;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      queue.process(12, async () => {
        running++;
        peak = Math.max(peak, running);
        await released;
        running--;
        finished++;
      });
      await Promise.all(Array.from({ length: 20 }, (_, i) => queue.enqueue(`wide-${i}`)));
      await until(() => running === 12, 'twelve deliveries running at once');
      release();
      await until(() => finished === 20, 'every delivery to finish');
      expect(peak).to.equal(12);
    });

    it('retries a rejected delivery with a growing backoff, says which attempt is the last, and stops there', async () => {
      const tuning = { ...TUNING, retries: 2, backoffMs: 100 };
      const queue = await open(harness.newNamespace(), tuning);
      const attempts: Array<{ finalAttempt: boolean; at: number }> = [];
      queue.process(1, async ({ finalAttempt }) => {
        attempts.push({ finalAttempt, at: Date.now() });
        throw new Error('this attempt fails');
      });
      await queue.enqueue('flaky');
      await until(() => attempts.length === 3, 'three attempts');
      // A fourth attempt would be held, delayed, from the third one's failure on: a job no longer held gets no more.
      await until(async () => (await queue.holding(['flaky'])).size === 0, 'the job to leave the queue');
      expect(attempts.map((a) => a.finalAttempt)).to.deep.equal([false, false, true]);
      expect(attempts[1]!.at - attempts[0]!.at).to.be.at.least(tuning.backoffMs - CLOCK_SLACK_MS);
      expect(attempts[2]!.at - attempts[1]!.at).to.be.at.least(2 * tuning.backoffMs - CLOCK_SLACK_MS);
    });

    it('holds waiting, running and retry-waiting ids, and not finished or unknown ones, and counts them', async () => {
      // The retry waits a minute: long after the test has looked.
      const queue = await open(harness.newNamespace(), { ...TUNING, retries: 1, backoffMs: 60_000 });
      const release = deferred();
      const delivered: string[] = [];
      queue.process(1, async ({ jobId }) => {
        delivered.push(jobId);
        if (jobId === 'retrying') throw new Error('later');
        if (jobId === 'running') await release.promise;
      });
      await queue.enqueue('retrying');
      await queue.enqueue('finished');
      // With one delivery at a time, 'retrying' has its retry scheduled once 'finished' is done.
      await until(async () => delivered.includes('finished') && (await queue.holding(['finished'])).size === 0, "'finished' to finish");
      await queue.enqueue('running');
      await until(() => delivered.includes('running'), "'running' to start");
      await queue.enqueue('waiting');

      const all = ['retrying', 'finished', 'running', 'waiting', 'unknown'];
      expect(await queue.holding(all)).to.deep.equal(new Set(['retrying', 'running', 'waiting']));
      expect(await queue.depth()).to.deep.equal({ waiting: 1, active: 1, delayed: 1 });

      release.resolve();
      await until(async () => (await queue.holding(['running', 'waiting'])).size === 0, "'running' and 'waiting' to finish");
      expect(await queue.holding(all)).to.deep.equal(new Set(['retrying']));
      expect(await queue.depth()).to.deep.equal({ waiting: 0, active: 0, delayed: 1 });
      await queue.cancel('retrying');
      expect(await queue.holding(all)).to.deep.equal(new Set());
      expect(await queue.depth()).to.deep.equal({ waiting: 0, active: 0, delayed: 0 });
      expect(delivered).to.deep.equal(['retrying', 'finished', 'running', 'waiting']);
    });

    it('cancel takes a waiting id out, so that it is never delivered', async () => {
      const queue = await open(harness.newNamespace());
      await queue.enqueue('doomed');
      await queue.enqueue('kept');
      await queue.enqueue(MARKER);
      await queue.cancel('doomed');
      await queue.cancel('never-enqueued');
      expect(await queue.holding(['doomed', 'kept'])).to.deep.equal(new Set(['kept']));
      const delivered: string[] = [];
      queue.process(2, async ({ jobId }) => {
        delivered.push(jobId);
      });
      await until(() => delivered.includes(MARKER), 'the marker delivery');
      expect(delivered).to.deep.equal(['kept', MARKER]);
    });

    it("cancel aborts a running delivery's signal, and the job is not retried", async () => {
      const queue = await open(harness.newNamespace());
      const deliveries = startAbortableWorker(queue);
      await queue.enqueue('long');
      await until(() => deliveries.length === 1, 'the delivery');
      await queue.cancel('long');
      await until(() => deliveries[0]!.signal.aborted, 'the abort');
      // One delivery at a time: the marker's comes once the aborted one's failure is settled, and a retry would be held by then.
      await queue.enqueue(MARKER);
      await until(() => deliveries.some((d) => d.jobId === MARKER), 'the marker delivery');
      expect(deliveries.map((d) => d.jobId)).to.deep.equal(['long', MARKER]);
      expect(await queue.holding(['long'])).to.deep.equal(new Set());
    });

    it('cancel on another queue of the same namespace aborts the delivery where it runs', async () => {
      const namespace = harness.newNamespace();
      const worker = await open(namespace);
      const other = await open(namespace);
      const deliveries = startAbortableWorker(worker);
      await other.enqueue('remote');
      await until(() => deliveries.length === 1, 'the delivery');
      await other.cancel('remote');
      await until(() => deliveries[0]!.signal.aborted, 'the abort');
      // As above: the marker comes once the aborted delivery's failure is settled.
      await other.enqueue(MARKER);
      await until(() => deliveries.some((d) => d.jobId === MARKER), 'the marker delivery');
      expect(deliveries.map((d) => d.jobId)).to.deep.equal(['remote', MARKER]);
      expect(await other.holding(['remote'])).to.deep.equal(new Set());
    });

    it('close waits for running deliveries, then takes no more jobs', async () => {
      const namespace = harness.newNamespace();
      const queue = await open(namespace);
      const deliveries: QueueDelivery[] = [];
      let finished = false;
      queue.process(1, async (delivery) => {
        deliveries.push(delivery);
        await sleep(300);
        finished = true;
      });
      await queue.enqueue('slow');
      await until(() => deliveries.length === 1, 'the delivery');
      await queue.close(5000);
      expect(finished).to.equal(true);
      expect(deliveries[0]!.signal.aborted).to.equal(false);
      await queue.close(5000);

      const producer = await open(namespace);
      await producer.enqueue('after-close');
      expect(await producer.holding(['after-close'])).to.deep.equal(new Set(['after-close']));
      // A read the closed queue had left blocked would have been served first; an open worker gets the job instead.
      const taken: string[] = [];
      producer.process(1, async ({ jobId }) => {
        taken.push(jobId);
      });
      await until(() => taken.length + deliveries.length > 1, "'after-close' to be delivered");
      expect(deliveries).to.have.length(1);
      expect(taken).to.deep.equal(['after-close']);
    });

    it("close gives up at its timeout and aborts the delivery's signal; another queue gets the job once its lock lapses", async () => {
      const namespace = harness.newNamespace();
      const first = await open(namespace);
      const stuck = deferred();
      const firstRunEnded = deferred();
      const firstDeliveries: QueueDelivery[] = [];
      first.process(1, async (delivery) => {
        firstDeliveries.push(delivery);
        await stuck.promise;
        firstRunEnded.resolve();
      });
      await first.enqueue('orphan');
      await until(() => firstDeliveries.length === 1, 'the first delivery');
      const closing = Date.now();
      await first.close(100);
      // The delivery never ends by itself: a close that waited for it would not return at all; the bound is generous.
      expect(Date.now() - closing).to.be.below(100 + 5000);
      expect(firstDeliveries[0]!.signal.aborted).to.equal(true);

      const second = await open(namespace);
      const secondDeliveries: QueueDelivery[] = [];
      second.process(1, async (delivery) => {
        secondDeliveries.push(delivery);
      });
      await until(() => secondDeliveries.length === 1, 'the job to be delivered again', 4 * TUNING.stallIntervalMs + 10_000);
      // The first run ends late: its outcome must change nothing. Its queue is closed, so whatever it does, it does in the turns after the run returns.
      stuck.resolve();
      await firstRunEnded.promise;
      await new Promise((resolve) => setImmediate(resolve));
      await second.ping();
      expect(secondDeliveries.map((d) => [d.jobId, d.finalAttempt])).to.deep.equal([['orphan', false]]);
      expect(await second.holding(['orphan'])).to.deep.equal(new Set());
    });
  });
}

/** A worker whose deliveries run until their signal aborts, then reject with its reason; the marker's returns at once. */
function startAbortableWorker(queue: JobQueue): QueueDelivery[] {
  const deliveries: QueueDelivery[] = [];
  queue.process(1, async (delivery) => {
    deliveries.push(delivery);
    if (delivery.jobId === MARKER) return;
    await new Promise((resolve) => delivery.signal.addEventListener('abort', resolve, { once: true }));
    throw delivery.signal.reason;
  });
  return deliveries;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
