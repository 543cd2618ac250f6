import { harnessResources } from '../resources.js';
import { describeCycleRules } from './cycles.js';
import type { StoreHarness } from './harness.js';
import { describeHistory } from './history.js';
import { describeLineage } from './lineage.js';
import { describeOutbox } from './outbox.js';
import { describePublishing } from './publishing.js';
import { describeQueries } from './queries.js';
import { describeRecords } from './records.js';
import { describeUnavailable } from './unavailable.js';

export type { StoreHarness } from './harness.js';

/**
 * The one suite every ProvenanceStore adapter must pass, so that all of them
 * give the same answers. Each adapter has a runner (*.test.ts) that builds a
 * harness and calls runProvenanceStoreConformance. Its parts, one file each
 * in this folder, are by concern: records and etags, queries and pages,
 * lineage, the history of states, cycles, the outbox (or, for a store that relays it, the
 * relay), a database that is gone.
 */

/** Registers the suite. It closes the stores it was given, then calls harness.dispose() once, after all its tests. */
export function runProvenanceStoreConformance(harness: StoreHarness): void {
  describe(`ProvenanceStore conformance: ${harness.name}`, function () {
    const { open, use, adopt } = harnessResources(harness);
    const suite = { harness, open, use, adopt };

    describeRecords(suite);
    describeQueries(suite);
    describeLineage(suite);
    describeHistory(suite);
    describeCycleRules({
      open,
      async openTwin(store) {
        const twin = await harness.openTwin(store);
        adopt(twin);
        return twin;
      },
    });
    if (harness.publishing) describePublishing(suite, harness.publishing);
    else describeOutbox(suite);
    describeUnavailable(suite);
  });
}
