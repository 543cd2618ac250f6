import { expect } from 'chai';
import { ProvenanceError } from '../../src/domain/errors.js';
import type { LoggedEvent } from '../../src/domain/job-events.js';
import type { EventView } from '../../src/domain/job-view.js';
import { NO_METRICS } from '../../src/domain/ports/metrics.js';
import { EventHub, type EventFilter, type StartAt, type Subscription } from '../../src/service/event-stream/event-hub.js';
import { event } from '../conformance/event-log.js';
import { rejection, sleep, until } from '../support/waits.js';
import { ScriptedEventLog } from '../support/scripted-event-log.js';

const QUIET = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const READER = { tenant: 'tenant-1', subject: 'alice' };
// The events of these tests name no other job: each is shown as it is.
const EVERYTHING: EventFilter = { reader: READER, view: async (events) => events as unknown as EventView[] };
const NOW: StartAt = { kind: 'now' };

/** Takes the subscription's events as they come. */
function collect(subscription: Subscription): LoggedEvent[] {
  const events: LoggedEvent[] = [];
  void (async () => {
    for await (const batch of subscription.batches()) events.push(...batch);
  })().catch(() => undefined);
  return events;
}

const jobsOf = (events: readonly LoggedEvent[]) => events.map((e) => e.jobId);

/**
 * The hub's reader and its subscribers, with the log's answers held and let
 * go in the orders that lose or add events when the hub gets them wrong.
 */
describe('EventHub', () => {
  let log: ScriptedEventLog;
  let hub: EventHub;

  beforeEach(() => {
    log = new ScriptedEventLog();
    hub = new EventHub(log, { bufferLimit: 3, readBatch: 3, blockMs: 50, maxPerPrincipal: 2 }, QUIET, NO_METRICS);
  });
  afterEach(async () => {
    hub.stop();
    await log.close();
  });

  const open = (start: StartAt = NOW) => hub.open(EVERYTHING, start, hub.reserve(READER));
  /** A subscription of another principal that keeps the reader reading (it reads nothing while nobody is subscribed), once it blocks on the log. */
  const keepReading = async () => {
    const events = collect(await hub.open(EVERYTHING, NOW, hub.reserve({ tenant: READER.tenant, subject: 'keeper' })));
    await until(() => log.calls.read > 0 && log.calls.readBlocking > 0, 'the keeper to catch up and the reader to wait on the log');
    return events;
  };

  it('gives a subscription opened while the reader starts every later event (the reader starts no later than it)', async () => {
    log.boundsGate.hold();
    const opening = open();
    hub.start();
    let subscription: Subscription | undefined;
    void opening.then((opened) => (subscription = opened));
    // The log answers one question at a time, in the order asked, until the subscription is registered.
    for (const deadline = Date.now() + 5000; !subscription && Date.now() < deadline; await sleep(1)) log.boundsGate.releaseNext();
    const events = collect(subscription!);
    await log.append([event('registered-then', 1)]);
    log.boundsGate.open();
    await log.append([event('later', 1)]);
    await until(() => events.some((e) => e.jobId === 'later'), 'the later event');
    expect(jobsOf(events)).to.deep.equal(['registered-then', 'later']);
  });

  it('starts a subscription from now after the newest event of the log, not after the last one the reader handed over', async () => {
    hub.start();
    await keepReading();
    // The log has the event, but the reader has not had it yet.
    log.blockingReadGate.hold();
    await log.append([event('before', 1)]);
    const events = collect(await open());
    log.blockingReadGate.open();
    await log.append([event('after', 1)]);
    await until(() => events.some((e) => e.jobId === 'after'), 'the event after the subscription');
    expect(jobsOf(events)).to.deep.equal(['after']);
  });

  it('reads the log again when live events were dropped while its catch-up read was under way', async () => {
    hub.start();
    await keepReading();
    await log.append([event('a', 1), event('b', 1)]);
    await until(() => log.lastBlockingAnswer === '2-0', 'the reader to pass the first events');
    log.readGate.hold();
    const events = collect(await open({ kind: 'oldest' }));
    await until(() => log.readGate.waiting === 1, 'the catch-up read');
    // More than the buffer (3) arrive live while the catch-up's answer (a, b) is on its way: the queue is dropped.
    await log.append(['c', 'd', 'e', 'f', 'g'].map((jobId) => event(jobId, 1)));
    await until(() => log.lastBlockingAnswer === '7-0', 'the reader to hand the live events over');
    log.readGate.open();
    await until(() => events.some((e) => e.jobId === 'g'), 'the last event');
    expect(jobsOf(events)).to.deep.equal(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('reads nothing while nobody is subscribed, and gives a later subscriber every event after its start', async () => {
    hub.start();
    const first = await open();
    await until(() => log.calls.readBlocking > 0, 'the reader to wait on the log');
    await log.append([event('seen', 1)]);
    await until(() => log.lastBlockingAnswer === '1-0', 'the reader to hand the event over');
    first.close();
    // The blocking read under way when the last subscriber left ends after blockMs; a reader that read on would be in the next one.
    await until(() => log.blockingReadsUnderWay === 0, 'the blocking read under way to end');
    await log.append([event('unwatched', 1), event('unwatched', 2)]);

    const fromNow = collect(await open());
    const fromCursor = collect(await open({ kind: 'after', cursor: '1-0' }));
    await log.append([event('watched', 1)]);
    await until(() => fromNow.length > 0 && fromCursor.some((e) => e.jobId === 'watched'), 'the event after both subscriptions');
    expect(jobsOf(fromNow)).to.deep.equal(['watched']);
    expect(jobsOf(fromCursor)).to.deep.equal(['unwatched', 'unwatched', 'watched']);
    // The unwatched events were never read by the reader: only the catch-up from the cursor read them.
    expect(log.blockingAnswers).to.deep.equal(['1-0', '4-0']);
  });

  it('refuses new subscriptions with UNAVAILABLE once stopped, also one that was waiting on the log', async () => {
    hub.start();
    log.boundsGate.hold();
    const waiting = open();
    hub.stop();
    log.boundsGate.open();
    for (const refused of [await rejection(waiting), await rejection(open())]) {
      expect(refused).to.be.instanceOf(ProvenanceError).and.to.include({ code: 'UNAVAILABLE', reason: 'SERVER_SHUTTING_DOWN' });
    }
    expect(hub.subscriberCount).to.equal(0);
  });

  it('caps the subscriptions of each principal, and gives a released slot back at once', async () => {
    hub.start();
    const first = await open();
    const second = hub.reserve(READER);
    const refused = (() => {
      try {
        hub.reserve(READER);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).to.be.instanceOf(ProvenanceError).and.to.include({ code: 'RESOURCE_EXHAUSTED', reason: 'TOO_MANY_SUBSCRIPTIONS' });
    expect((refused as ProvenanceError).message).to.contain('PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL=2');
    expect((refused as ProvenanceError).details.metadata).to.deep.equal({ maxSubscriptions: '2' });
    // Another subject of the same tenant has slots of its own.
    hub.reserve({ tenant: READER.tenant, subject: 'bob' });
    second.release();
    second.release();
    const third = hub.reserve(READER);
    expect(() => hub.reserve(READER)).to.throw(ProvenanceError);
    first.close();
    hub.reserve(READER);
    third.release();
  });
});
