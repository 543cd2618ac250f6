import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { LineageRelation } from '@provenance/client/gen/provenance/v1/lineage';
import { GetLineageResponse } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { LineageView } from '../domain/commands.js';
import type { JobView } from '../domain/job-view.js';
import { RELATION_CODES, type ColumnarLineage, type Lineage } from '../domain/lineage.js';
import { nextTurn } from '../service/next-turn.js';
import { EncodedMessage, encodeInParts } from './encoded-messages.js';
import { lineageResponseParts } from './mapping.js';

/** GetLineage's answer, encoded: a lineage of node objects in parts (lineageResponseParts), one in columns from its columns. */
export function encodeLineageAnswer(lineage: Lineage<JobView> | ColumnarLineage<JobView>, view: LineageView | 'INVALID'): Promise<EncodedMessage> {
  return 'columns' in lineage ? encodeColumnarAnswer(lineage) : encodeInParts(GetLineageResponse, lineageResponseParts(lineage, view));
}

/** Ids written between two turns of the event loop: a step takes a few milliseconds. */
const IDS_PER_TURN = 20_000;

/** Tags of GetLineageResponse.compact and of CompactLineage's fields (lineage.proto), each length-delimited (wire type 2). */
const COMPACT_TAG = (9 << 3) | 2;
const [JOB_IDS_TAG, DEPTHS_TAG, RELATIONS_TAG, RESTRICTED_TAG, EDGES_TAG] = [1, 2, 3, 4, 5].map((field) => (field << 3) | 2) as [number, number, number, number, number];

/**
 * The compact view's answer written from the columns, as the generated
 * encoder writes the CompactLineage that the lineage's nodes as objects
 * would map to (mapping.ts, toCompactLineage): the same fields in the same
 * order, hence the same bytes (test/unit/use-cases/compact-lineage.test.ts
 * checks), without an object or array per node. Columns come without
 * fan-out caps: fields 6 and 7 are empty, and an empty repeated field is
 * not written. The event loop turns every IDS_PER_TURN ids.
 */
async function encodeColumnarAnswer(lineage: ColumnarLineage<JobView>): Promise<EncodedMessage> {
  const writer = new BinaryWriter();
  // The fields before compact, as the IDS view of the lineage without its nodes writes them.
  for (const part of lineageResponseParts({ ...lineage, nodes: [], edgeIndexes: [] }, 'IDS')) GetLineageResponse.encode(part, writer);
  const { jobIds, depths, relations, restricted = [] } = lineage.columns;
  writer.uint32(COMPACT_TAG).fork();
  writer.uint32(JOB_IDS_TAG).string(lineage.root.jobId);
  for (let i = 0; i < jobIds.length; i++) {
    if (i > 0 && i % IDS_PER_TURN === 0) await nextTurn();
    writer.uint32(JOB_IDS_TAG).string(jobIds[i]!);
  }
  await nextTurn();
  writer.uint32(DEPTHS_TAG).fork().int32(0);
  for (const depth of depths) writer.int32(depth);
  writer.join();
  writer.uint32(RELATIONS_TAG).fork().int32(LineageRelation.LINEAGE_RELATION_ROOT);
  for (const relation of relations) writer.int32(relation === RELATION_CODES.ANCESTOR ? LineageRelation.LINEAGE_RELATION_ANCESTOR : LineageRelation.LINEAGE_RELATION_DESCENDANT);
  writer.join();
  if (restricted.length > 0) {
    writer.uint32(RESTRICTED_TAG).fork();
    // Indexes of [root, ...nodes]: node i is at i + 1.
    for (const node of restricted) writer.uint32(node + 1);
    writer.join();
  }
  await nextTurn();
  if (lineage.edgeIndexes.length > 0) {
    writer.uint32(EDGES_TAG).fork();
    for (const index of lineage.edgeIndexes) writer.uint32(index);
    writer.join();
  }
  writer.join();
  const bytes = writer.finish();
  return new EncodedMessage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
