import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { LineageRelation } from '@provenance/client/gen/provenance/v1/lineage';
import { GetLineageResponse } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { LineageView } from '../domain/commands.js';
import type { JobView } from '../domain/job-view.js';
import { RELATION_CODES, type ColumnarLineage, type Lineage } from '../domain/lineage.js';
import type { Utf8Strings } from '../domain/utf8-strings.js';
import { nextTurn } from '../service/next-turn.js';
import { EncodedMessage, encodeInParts } from './encoded-messages.js';
import { lineageResponseParts } from './mapping.js';

/** GetLineage's answer, encoded: a lineage of node objects in parts (lineageResponseParts), one in columns from its columns. */
export function encodeLineageAnswer(lineage: Lineage<JobView> | ColumnarLineage<JobView>, view: LineageView | 'INVALID'): Promise<EncodedMessage> {
  return 'columns' in lineage ? encodeColumnarAnswer(lineage) : encodeInParts(GetLineageResponse, lineageResponseParts(lineage, view));
}

const encoder = new TextEncoder();

/**
 * CompactLineage's job_ids entries of ids from to end - 1 (shownBytes: the
 * UTF-8 of those shown under a placeholder), as `writer.uint32(10).string(id)`
 * writes each: its tag, its length in bytes as a varint, its bytes, copied
 * from the UTF-8 the ids came in, never made into strings.
 */
function idEntries(ids: Utf8Strings, from: number, end: number, shownBytes: ReadonlyMap<number, Uint8Array>): Uint8Array {
  const { utf8, offsets } = ids;
  const shown = (i: number) => (shownBytes.size > 0 ? shownBytes.get(i) : undefined);
  let size = 0;
  for (let i = from; i < end; i++) {
    const length = shown(i)?.length ?? offsets[i + 1]! - offsets[i]!;
    size += 1 + varintSize(length) + length;
  }
  const entries = new Uint8Array(size);
  let at = 0;
  for (let i = from; i < end; i++) {
    const placeholder = shown(i);
    const bytes = placeholder ?? utf8;
    const start = placeholder ? 0 : offsets[i]!;
    const length = placeholder ? placeholder.length : offsets[i + 1]! - start;
    entries[at++] = JOB_IDS_TAG;
    for (let rest = length; ; rest >>>= 7) {
      if (rest < 0x80) {
        entries[at++] = rest;
        break;
      }
      entries[at++] = (rest & 0x7f) | 0x80;
    }
    for (let b = 0; b < length; b++) entries[at++] = bytes[start + b]!;
  }
  return entries;
}

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value >>> 7; rest > 0; rest >>>= 7) size++;
  return size;
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
  const { columns } = lineage;
  const { depths, relations, restricted = [], placeholders = [] } = columns;
  writer.uint32(COMPACT_TAG).fork();
  writer.uint32(JOB_IDS_TAG).string(lineage.root.jobId);
  const shownBytes = new Map(restricted.map((node, k) => [node, encoder.encode(placeholders[k]!)]));
  for (let from = 0; from < depths.length; from += IDS_PER_TURN) {
    writer.raw(idEntries(columns.jobIds, from, Math.min(from + IDS_PER_TURN, depths.length), shownBytes));
    await nextTurn();
  }
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
