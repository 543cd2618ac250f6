import { MemoryEventLog } from '../../src/adapters/memory/memory-event-log.js';
import { MemoryProvenanceStore } from '../../src/adapters/memory/memory-provenance-store.js';
import type { EventLog } from '../../src/domain/ports/event-log.js';
import { NO_METRICS } from '../../src/domain/ports/metrics.js';
import type { ProvenanceStore } from '../../src/domain/ports/provenance-store.js';
import { EventRelay } from '../../src/service/event-stream/event-relay.js';
import { PublishingStore } from '../../src/service/event-stream/publishing-store.js';
import { runProvenanceStoreConformance } from './provenance-store/index.js';

/** The store as the use cases see it, over the memory adapters: the suite's answers must not change by relaying. */
const events = new MemoryEventLog();
const inner = new WeakMap<ProvenanceStore, MemoryProvenanceStore>();
const QUIET_LOG = { debug() {}, info() {}, warn() {}, error() {} };

function publishing(store: MemoryProvenanceStore, log: EventLog = events): PublishingStore {
  const published = new PublishingStore(store, new EventRelay(store, log, QUIET_LOG, NO_METRICS), NO_METRICS);
  inner.set(published, store);
  return published;
}

runProvenanceStoreConformance({
  name: 'publishing store over the in-memory store and event log',
  async create() {
    return publishing(new MemoryProvenanceStore());
  },
  async openTwin(store) {
    return publishing(inner.get(store)!.twin());
  },
  async createBreakable() {
    const store = publishing(new MemoryProvenanceStore());
    return { store, breakDatabase: () => store.close() };
  },
  async dispose() {
    await events.close();
  },
  publishing: {
    events,
    async createWithEventsGone() {
      const gone = new MemoryEventLog();
      await gone.close();
      return publishing(new MemoryProvenanceStore(), gone);
    },
  },
});
