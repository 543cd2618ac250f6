import { LineageRelation } from '@provenance/client/gen/provenance/v1/lineage';
import { GetLineageResponse } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { LineageView } from '../domain/commands.js';
import type { JobView } from '../domain/job-view.js';
import { RELATION_CODES, type ColumnarLineage, type Lineage, type LineageReadingRecords } from '../domain/lineage.js';
import { TurnClock } from '../service/next-turn.js';
import { allocateFrame, EncodedMessage, encodeInParts, GRPC_PREFIX_BYTES } from './encoded-messages.js';
import { lineageResponseParts, lineageResponsePartsReadingRecords } from './mapping.js';

/**
 * GetLineage's answer, encoded: a lineage of node objects in parts
 * (lineageResponseParts), one reading its records in parts as they are
 * encoded (the FULL view of a lineage the store built), one in columns
 * from its columns (the IDS and COMPACT views of a lineage the store built).
 */
export function encodeLineageAnswer(
  lineage: Lineage<JobView> | ColumnarLineage<JobView> | LineageReadingRecords<JobView>,
  view: LineageView | 'INVALID',
): Promise<EncodedMessage> {
  if ('readRecords' in lineage) return encodeInParts(GetLineageResponse, lineageResponsePartsReadingRecords(lineage));
  if (!('columns' in lineage)) return encodeInParts(GetLineageResponse, lineageResponseParts(lineage, view));
  return view === 'COMPACT' ? encodeCompactAnswer(lineage) : encodeIdsAnswer(lineage);
}

const encoder = new TextEncoder();

/**
 * The ids of an answer's jobs as UTF-8, by index in [root, ...nodes]: the
 * root's, then each node's from the columns, or the placeholder a
 * restricted node is shown under. Copied from the bytes the ids came in,
 * never made into strings.
 */
class AnswerIds {
  private readonly root: Uint8Array;
  private readonly shown: ReadonlyMap<number, Uint8Array>;
  private readonly utf8: Uint8Array;
  private readonly offsets: Int32Array;

  constructor(lineage: ColumnarLineage<JobView>) {
    const { jobIds, restricted = [], placeholders = [] } = lineage.columns;
    this.root = encoder.encode(lineage.root.jobId);
    // Keyed by answer index: node i is at i + 1.
    this.shown = new Map(restricted.map((node, k) => [node + 1, encoder.encode(placeholders[k]!)]));
    this.utf8 = jobIds.utf8;
    this.offsets = jobIds.offsets;
  }

  byteLength(index: number): number {
    if (index === 0) return this.root.length;
    return this.shownAt(index)?.length ?? this.offsets[index]! - this.offsets[index - 1]!;
  }

  /** Writes id index's bytes at `at` of out; returns where they end. */
  write(index: number, out: Uint8Array, at: number): number {
    const placeholder = index === 0 ? this.root : this.shownAt(index);
    const [bytes, start, end] = placeholder ? [placeholder, 0, placeholder.length] : [this.utf8, this.offsets[index - 1]!, this.offsets[index]!];
    for (let b = start; b < end; b++) out[at++] = bytes[b]!;
    return at;
  }

  private shownAt(index: number): Uint8Array | undefined {
    return this.shown.size > 0 ? this.shown.get(index) : undefined;
  }
}

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value >>> 7; rest > 0; rest >>>= 7) size++;
  return size;
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  let rest = value >>> 0;
  while (rest >= 0x80) {
    out[at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[at++] = rest;
  return at;
}

/** A string field of an id as `writer.uint32(tag).string(id)` writes it, and as ts-proto does not for an empty one. */
function idFieldSize(ids: AnswerIds, index: number): number {
  const length = ids.byteLength(index);
  return length === 0 ? 0 : 1 + varintSize(length) + length;
}

function writeIdField(ids: AnswerIds, index: number, tag: number, out: Uint8Array, at: number): number {
  const length = ids.byteLength(index);
  if (length === 0) return at;
  out[at++] = tag;
  at = writeVarint(out, at, length);
  return ids.write(index, out, at);
}

/** Entries (ids, nodes, edges) measured or written between two looks at the turn clock: well under a millisecond. */
const ENTRIES_PER_LOOK = 1024;

/** Whether entry i is one at which the encoders look at the clock. */
function look(i: number): boolean {
  return i % ENTRIES_PER_LOOK === 0;
}

/** Tags of GetLineageResponse.compact and of CompactLineage's fields (lineage.proto), each length-delimited (wire type 2). */
const COMPACT_TAG = (9 << 3) | 2;
const [JOB_IDS_TAG, DEPTHS_TAG, RELATIONS_TAG, RESTRICTED_TAG, EDGES_TAG] = [1, 2, 3, 4, 5].map((field) => (field << 3) | 2) as [number, number, number, number, number];

/** Tags of GetLineageResponse.nodes and .edges, of LineageNode's job_id, depth, relation and restricted, and of Edge's two ids (lineage.proto). */
const [NODES_TAG, EDGE_ENTRIES_TAG] = [(2 << 3) | 2, (3 << 3) | 2];
const [NODE_ID_TAG, NODE_DEPTH_TAG, NODE_RELATION_TAG, NODE_RESTRICTED_TAG] = [(1 << 3) | 2, 2 << 3, 3 << 3, 7 << 3];
const [PARENT_ID_TAG, CHILD_ID_TAG] = [(1 << 3) | 2, (2 << 3) | 2];

function protoRelation(code: number): LineageRelation {
  return code === RELATION_CODES.ANCESTOR ? LineageRelation.LINEAGE_RELATION_ANCESTOR : LineageRelation.LINEAGE_RELATION_DESCENDANT;
}

/**
 * The compact view's answer written from the columns, as the generated
 * encoder writes the CompactLineage that the lineage's nodes as objects
 * would map to (mapping.ts, toCompactLineage): the same fields in the same
 * order, hence the same bytes (test/unit/use-cases/compact-lineage.test.ts
 * checks), without an object or array per node. Columns come without
 * fan-out caps: fields 6 and 7 are empty, and an empty repeated field is
 * not written. Measured first, then written into one gRPC frame, as the IDS
 * view is: the generated encoder's writer grows its buffer by doubling,
 * shifts each length-delimited field's bytes when its length takes more
 * than one byte, and copies the whole on finishing, each a copy of up to
 * tens of MB in one block on a whole ancestry at 1,000,000 jobs. The event
 * loop turns once TURN_BUDGET_MS is spent.
 */
async function encodeCompactAnswer(lineage: ColumnarLineage<JobView>): Promise<EncodedMessage> {
  const clock = new TurnClock();
  // The fields before compact, as the IDS view of the lineage without its nodes writes them.
  const head = Buffer.concat([...lineageResponseParts({ ...lineage, nodes: [], edgeIndexes: [] }, 'IDS')].map((part) => GetLineageResponse.encode(part).finish()));
  const { depths, relations, restricted = [] } = lineage.columns;
  const { edgeIndexes } = lineage;
  const ids = new AnswerIds(lineage);
  // Every id, the root's included, as a job_ids entry (an empty one too: a repeated string is written whatever its value).
  const idEntrySize = (i: number) => 1 + varintSize(ids.byteLength(i)) + ids.byteLength(i);
  // The packed fields: depths and relations with the root's first (0 and ROOT), restricted as indexes of [root, ...nodes].
  const rootRelation = LineageRelation.LINEAGE_RELATION_ROOT;
  const depthAt = (i: number) => (i === 0 ? 0 : depths[i - 1]!);
  const relationAt = (i: number) => (i === 0 ? rootRelation : protoRelation(relations[i - 1]!));
  const restrictedAt = (k: number) => restricted[k]! + 1;
  const edgeAt = (k: number) => edgeIndexes[k]!;
  const count = depths.length + 1;
  const idsSize = await sumInTurns(count, idEntrySize, clock);
  const packed: Array<[tag: number, size: number, length: number, valueAt: (i: number) => number]> = [
    [DEPTHS_TAG, await sumInTurns(count, (i) => varintSize(depthAt(i)), clock), count, depthAt],
    [RELATIONS_TAG, await sumInTurns(count, (i) => varintSize(relationAt(i)), clock), count, relationAt],
  ];
  if (restricted.length > 0) packed.push([RESTRICTED_TAG, await sumInTurns(restricted.length, (k) => varintSize(restrictedAt(k)), clock), restricted.length, restrictedAt]);
  if (edgeIndexes.length > 0) packed.push([EDGES_TAG, await sumInTurns(edgeIndexes.length, (k) => varintSize(edgeAt(k)), clock), edgeIndexes.length, edgeAt]);
  let compactSize = idsSize;
  for (const [, size] of packed) compactSize += 1 + varintSize(size) + size;
  const total = head.length + 1 + varintSize(compactSize) + compactSize;
  // Written after its gRPC prefix, so that grpc-js sends it without a copy (framed-answers.ts).
  const frame = allocateFrame(total);
  const out = frame.subarray(GRPC_PREFIX_BYTES);
  out.set(head, 0);
  let at = head.length;
  out[at++] = COMPACT_TAG;
  at = writeVarint(out, at, compactSize);
  for (let i = 0; i < count; i++) {
    if (look(i) && clock.due()) await clock.turn();
    out[at++] = JOB_IDS_TAG;
    at = ids.write(i, out, writeVarint(out, at, ids.byteLength(i)));
  }
  for (const [tag, size, length, valueAt] of packed) {
    out[at++] = tag;
    at = writeVarint(out, at, size);
    for (let i = 0; i < length; i++) {
      if (look(i) && clock.due()) await clock.turn();
      at = writeVarint(out, at, valueAt(i));
    }
  }
  if (at !== total) throw new Error('the compact answer is not as long as measured');
  return EncodedMessage.framed(frame);
}

/** size(0) + ... + size(count - 1), looking at the clock every ENTRIES_PER_LOOK. */
async function sumInTurns(count: number, size: (i: number) => number, clock: TurnClock): Promise<number> {
  let sum = 0;
  for (let i = 0; i < count; i++) {
    if (look(i) && clock.due()) await clock.turn();
    sum += size(i);
  }
  return sum;
}

/**
 * The IDS view's answer written from the columns, as the generated encoder
 * writes the answer the lineage's nodes as objects map to (mapping.ts,
 * toLineageNode and lineageEdges): the root, each node (job_id, depth,
 * relation, and restricted when it is a placeholder; columns come without
 * fan-out caps), each edge as its two ids, then the other fields. Measured
 * first, then written into one gRPC frame, with turns of the event loop once
 * TURN_BUDGET_MS is spent, and no object or string per node or edge
 * (docs/decisions.md, "Lineage built on the graph").
 */
async function encodeIdsAnswer(lineage: ColumnarLineage<JobView>): Promise<EncodedMessage> {
  const clock = new TurnClock();
  const [head, tail] = [...lineageResponseParts({ ...lineage, nodes: [], edgeIndexes: [] }, 'IDS')].map((part) => GetLineageResponse.encode(part).finish()) as [Uint8Array, Uint8Array];
  const { depths, relations } = lineage.columns;
  const { edgeIndexes } = lineage;
  const ids = new AnswerIds(lineage);
  const restricted = new Set(lineage.columns.restricted);
  // Each id's field size, by index in [root, ...nodes], measured once: an id is in its node and in each of its edges.
  const idFields = new Int32Array(depths.length + 1);
  for (let i = 0; i < idFields.length; i++) {
    if (look(i) && clock.due()) await clock.turn();
    idFields[i] = idFieldSize(ids, i);
  }
  const nodeSizes = new Int32Array(depths.length);
  let total = head.length + tail.length;
  for (let i = 0; i < depths.length; i++) {
    if (look(i) && clock.due()) await clock.turn();
    const depthSize = depths[i] === 0 ? 0 : 1 + varintSize(depths[i]!);
    const size = idFields[i + 1]! + depthSize + 1 + varintSize(protoRelation(relations[i]!)) + (restricted.has(i) ? 2 : 0);
    nodeSizes[i] = size;
    total += 1 + varintSize(size) + size;
  }
  const edgeSize = (k: number) => idFields[edgeIndexes[2 * k]!]! + idFields[edgeIndexes[2 * k + 1]!]!;
  const edgeCount = edgeIndexes.length / 2;
  for (let k = 0; k < edgeCount; k++) {
    if (look(k) && clock.due()) await clock.turn();
    total += 1 + varintSize(edgeSize(k)) + edgeSize(k);
  }
  // Written after its gRPC prefix, so that grpc-js sends it without a copy (framed-answers.ts).
  const frame = allocateFrame(total);
  const out = frame.subarray(GRPC_PREFIX_BYTES);
  out.set(head, 0);
  let at = head.length;
  for (let i = 0; i < depths.length; i++) {
    if (look(i) && clock.due()) await clock.turn();
    out[at++] = NODES_TAG;
    at = writeVarint(out, at, nodeSizes[i]!);
    at = writeIdField(ids, i + 1, NODE_ID_TAG, out, at);
    // ts-proto leaves out a zero depth; both relations are above 0.
    if (depths[i] !== 0) {
      out[at++] = NODE_DEPTH_TAG;
      at = writeVarint(out, at, depths[i]!);
    }
    out[at++] = NODE_RELATION_TAG;
    at = writeVarint(out, at, protoRelation(relations[i]!));
    if (restricted.has(i)) {
      out[at++] = NODE_RESTRICTED_TAG;
      out[at++] = 1;
    }
  }
  for (let k = 0; k < edgeCount; k++) {
    if (look(k) && clock.due()) await clock.turn();
    out[at++] = EDGE_ENTRIES_TAG;
    at = writeVarint(out, at, edgeSize(k));
    at = writeIdField(ids, edgeIndexes[2 * k]!, PARENT_ID_TAG, out, at);
    at = writeIdField(ids, edgeIndexes[2 * k + 1]!, CHILD_ID_TAG, out, at);
  }
  out.set(tail, at);
  if (at + tail.length !== total) throw new Error('the IDS answer is not as long as measured');
  return EncodedMessage.framed(frame);
}
