import { lineageOfColumns, type ColumnarLineage, type Lineage, type LineageReadingRecords } from '../../src/domain/lineage.js';
import type { JobView } from '../../src/domain/job-view.js';
import { inTurns } from '../../src/service/next-turn.js';

/**
 * GetLineage's answer with its nodes as objects, whether the store built it
 * in columns (IDS and COMPACT views), with records read as the answer is
 * written (FULL view; all read here at once), or neither.
 */
export async function lineageObjects(answer: Lineage<JobView> | ColumnarLineage<JobView> | LineageReadingRecords<JobView>): Promise<Lineage<JobView>> {
  if ('columns' in answer) return inTurns(lineageOfColumns(answer));
  if (!('readRecords' in answer)) return answer;
  const { lineage } = answer;
  const read = await answer.readRecords(0, lineage.nodes.length);
  return { ...lineage, nodes: read.nodes, edgeIndexes: [...lineage.edgeIndexes], hiddenNodeCount: lineage.hiddenNodeCount + read.restrictedSinceWalk.length };
}
