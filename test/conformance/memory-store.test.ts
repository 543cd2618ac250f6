import { MemoryProvenanceStore } from '../../src/adapters/memory/memory-provenance-store.js';
import type { ProvenanceStore } from '../../src/domain/ports/provenance-store.js';
import { runProvenanceStoreConformance } from './provenance-store/index.js';

runProvenanceStoreConformance({
  name: 'in memory',
  async create() {
    return new MemoryProvenanceStore();
  },
  async openTwin(store: ProvenanceStore) {
    return (store as MemoryProvenanceStore).twin();
  },
  async createBreakable() {
    const store = new MemoryProvenanceStore();
    // A closed store answers as a database that is gone.
    return { store, breakDatabase: () => store.close() };
  },
  async dispose() {},
});
