import type { EventLog } from '../../../src/domain/ports/event-log.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';

export interface StoreHarness {
  name: string;
  /** A new, empty store. */
  create(): Promise<ProvenanceStore>;
  /** A store whose database can be taken away, and the function that takes it away (afterwards every call must reject with ProvenanceError code UNAVAILABLE). */
  createBreakable(): Promise<{ store: ProvenanceStore; breakDatabase(): Promise<void> }>;
  /** A second connection to the database of a store create() gave, as another server process has. */
  openTwin(store: ProvenanceStore): Promise<ProvenanceStore>;
  /**
   * The store's replaceJobsTogether replaces one record after the other (MongoDB adapter, without
   * multi-document transactions): those before a refused one stay written.
   */
  replacesOneAfterAnother?: boolean;
  /** Releases whatever the harness holds (called once, after all tests). */
  dispose(): Promise<void>;
  /**
   * Given for a store that relays the outboxes its writes commit (PublishingStore): the event log the
   * stores of create() relay to, and a store whose event log is gone. The relay's checks then replace
   * the outbox part, since a relayed outbox is cleared right after each write.
   */
  publishing?: { events: EventLog; createWithEventsGone(): Promise<ProvenanceStore> };
}

/** What each part of the suite gets: the harness, and the stores it opened (closed after the suite's tests). */
export interface StoreSuite {
  harness: StoreHarness;
  /** A fresh store, for one test. */
  open(): Promise<ProvenanceStore>;
  /** A fresh store for the tests of a block, which keep apart by their own ids and tenants. */
  use(): () => ProvenanceStore;
  /** Closes a store the suite got some other way with the others. */
  adopt(store: ProvenanceStore): void;
}
