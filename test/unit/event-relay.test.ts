import { expect } from 'chai';
import { MemoryEventLog } from '../../src/adapters/memory/memory-event-log.js';
import { MemoryProvenanceStore } from '../../src/adapters/memory/memory-provenance-store.js';
import { withEvents, type ProvenanceEvent } from '../../src/domain/job-events.js';
import { NO_METRICS } from '../../src/domain/ports/metrics.js';
import { EventRelay } from '../../src/service/event-stream/event-relay.js';
import { makeJob } from '../support/job-records.js';

const QUIET_LOG = { debug() {}, info() {}, warn() {}, error() {} };

/** An event log whose appends wait until the test lets them go, counting the events handed to it. */
class HeldEventLog extends MemoryEventLog {
  handed = 0;
  private readonly held: Array<() => void> = [];

  override async append(events: readonly ProvenanceEvent[]): Promise<void> {
    this.handed += events.length;
    await new Promise<void>((resolve) => this.held.push(resolve));
    return super.append(events);
  }

  async whenHeld(): Promise<void> {
    while (this.held.length === 0) await new Promise((resolve) => setImmediate(resolve));
  }

  release(): void {
    this.held.shift()!();
  }
}

describe('the event relay sweep', () => {
  it('runs one sweep at a time: sweeps asked for meanwhile run once after it, and no outbox is appended twice', async () => {
    const store = new MemoryProvenanceStore();
    const events = new HeldEventLog();
    const relay = new EventRelay(store, events, QUIET_LOG, NO_METRICS);
    const first = withEvents(makeJob(), ['job.provenance.created', 'job.provenance.completed'], new Date());
    await store.insertJobs([first]);

    const running = relay.sweep();
    await events.whenHeld();
    // Written while the first sweep is held in its append: the sweeps asked for now must relay it, and only it.
    const second = withEvents(makeJob(), ['job.provenance.created'], new Date());
    await store.insertJobs([second]);
    const asked = [relay.sweep(), relay.sweep(), relay.sweep()];
    events.release();
    expect(await running).to.equal(1);
    await events.whenHeld();
    events.release();
    expect(await Promise.all(asked)).to.deep.equal([1, 1, 1]);

    expect(events.handed).to.equal(3);
    expect((await events.read(undefined, 100)).map((event) => event.jobId)).to.deep.equal([first.jobId, first.jobId, second.jobId]);
    expect(await store.listWithPendingEvents(10)).to.deep.equal([]);
  });
});
