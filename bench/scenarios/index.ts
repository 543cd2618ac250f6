import type { Scenario } from '../support/context.js';
import { batchIngest } from './batch-ingest.js';
import { events } from './events.js';
import { execution } from './execution.js';
import { growth } from './growth.js';
import { leaks } from './leaks.js';
import { lineage } from './lineage.js';
import { lineageMongo } from './lineage-mongo.js';
import { streamLineage } from './stream-lineage.js';
import { unary } from './unary.js';

/** In the order `npm run bench` runs them: batch ingest records the graph that the lineage scenarios then read. */
export const SCENARIOS: Scenario[] = [batchIngest, lineage, lineageMongo, growth, streamLineage, unary, execution, events, leaks];
