import { lineageOfColumns, type ColumnarLineage, type Lineage } from '../../src/domain/lineage.js';
import type { JobView } from '../../src/domain/job-view.js';
import { inTurns } from '../../src/service/next-turn.js';

/** GetLineage's answer with its nodes as objects, whether the store built it in columns (IDS and COMPACT views) or not. */
export async function lineageObjects(answer: Lineage<JobView> | ColumnarLineage<JobView>): Promise<Lineage<JobView>> {
  return 'columns' in answer ? inTurns(lineageOfColumns(answer)) : answer;
}
