import type { LineageCommand, LineageShaping, ListDependentsCommand, StreamLineageCommand } from '../domain/commands.js';
import { invalidArgument } from '../domain/errors.js';
import type { JobRecord } from '../domain/job.js';
import { referencedJobIds, type JobView, type JobViewer } from '../domain/job-view.js';
import { compareShownIds, type ShownId } from '../domain/shown-order.js';
import type { ReadableBy } from '../domain/access.js';
import {
  LINEAGE_STEP_SIZE,
  buildLineageInSteps,
  lineageOfColumns,
  NodesOfColumns,
  parentIndexesInSteps,
  restrictedNode,
  restrictedSinceWalk,
  type ColumnarLineage,
  type Lineage,
  type LineageDirection,
  type LineageEdge,
  type LineageNode,
  type LineageReadingRecords,
  type LineageRow,
  type ParentIndexes,
  type RecordsRead,
  type TruncationReason,
} from '../domain/lineage.js';
import { filterNeedsRecord, jobMatches, parseJobFilter } from '../domain/job-filter.js';
import { isSelective, selectionWalkTooLarge, type FanOut, type LineageSelection } from '../domain/lineage-selection.js';
import { LINEAGE_STREAM_SLICE_NODES, LineageStreamWalk, positionOf, type LineageStepRow, type StreamedNode, type StreamPosition } from '../domain/lineage-stream.js';
import { edgesByLaterEndpoint, firstPositionAfter, streamSlices } from '../domain/lineage-stream-slices.js';
import type { JsonObject } from '../domain/json.js';
import { decodePageToken, encodePageToken } from '../domain/page-token.js';
import type { LineageProjection } from '../domain/ports/provenance-store.js';
import type { Principal } from '../domain/principal.js';
import { ReproducibilityCheck, type ReproducibilityIssue } from '../domain/reproducibility.js';
import { toUtf8Strings, utf8StringAt, utf8StringCount, utf8StringsIn } from '../domain/utf8-strings.js';
import { Violations, effectivePageSize } from '../domain/validation.js';
import { AS_OF_WALK_FACTOR, asOfLineageTooLarge, jobAsOf, rowsAsOf, type AsOf } from './as-of.js';
import { readableJob } from './job-queries.js';
import type { ServiceDependencies } from './provenance-service.js';
import type { DependentsSnapshot } from './dependents-snapshots.js';
import { inTurns, nextTurn, TurnClock } from './next-turn.js';
import { knownJobs, viewerOf, viewJob, viewJobs } from './views.js';

const PROJECTIONS = { IDS: 'IDS', COMPACT: 'IDS', BASIC: 'SUMMARY', FULL: 'FULL' } as const;

/**
 * GetLineage's answer. In the IDS and compact views, a lineage the store
 * builds (ProvenanceStore.builtLineage) is answered in its columns, without
 * an object per node (docs/decisions.md, "Lineage built on the graph"); in
 * the FULL view, its records are read as the answer is written
 * (LineageReadingRecords).
 */
export async function getLineage<C extends LineageCommand>(deps: ServiceDependencies, principal: Principal, command: C): Promise<LineageAnswer<C['view']>> {
  const form = command.view === 'COMPACT' || command.view === 'IDS' ? 'columns' : command.view === 'FULL' ? 'recordsInParts' : 'objects';
  return answerLineage(deps, principal, command, form) as Promise<LineageAnswer<C['view']>>;
}

/**
 * What GetLineage answers in a view: columns possibly in the IDS and
 * compact views, records read as the answer is written possibly in the
 * FULL view, objects otherwise.
 */
export type LineageAnswer<V extends LineageCommand['view']> = V extends 'COMPACT' | 'IDS'
  ? Lineage<JobView> | ColumnarLineage<JobView>
  : V extends 'FULL'
    ? Lineage<JobView> | LineageReadingRecords<JobView>
    : Lineage<JobView>;

/**
 * The root and its lineage as whole records (or as types and statuses, without wholeRecords), limited like GetLineage with
 * the configured maximum node count. Where the store builds the lineage, its records come read as the answer is
 * written (LineageReadingRecords), whatever the format shows of them.
 */
export async function exportGraph(deps: ServiceDependencies, principal: Principal, command: ExportCommand): Promise<Lineage<JobView> | LineageReadingRecords<JobView>> {
  const { wholeRecords, ...lineageCommand } = command;
  return answerLineage(deps, principal, { ...lineageCommand, maxNodes: 0, view: wholeRecords ? 'FULL' : 'BASIC' }, 'recordsInParts');
}

/**
 * The form an answer is asked in: its nodes as objects, or, where the store
 * builds the lineage (builtWalk), its columns (the IDS and compact views) or
 * its nodes with their records read a part at a time as the answer is
 * written (the FULL view and the exports; objects otherwise).
 */
type AnswerForm = 'objects' | 'columns' | 'recordsInParts';

async function answerLineage(deps: ServiceDependencies, principal: Principal, command: LineageCommand, form: Exclude<AnswerForm, 'columns'>): Promise<Lineage<JobView> | LineageReadingRecords<JobView>>;
async function answerLineage(deps: ServiceDependencies, principal: Principal, command: LineageCommand, form: AnswerForm): Promise<Lineage<JobView> | ColumnarLineage<JobView> | LineageReadingRecords<JobView>>;
async function answerLineage(
  deps: ServiceDependencies,
  principal: Principal,
  command: LineageCommand,
  form: AnswerForm,
): Promise<Lineage<JobView> | ColumnarLineage<JobView> | LineageReadingRecords<JobView>> {
  const started = performance.now();
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  if (command.directions === 'INVALID') v.add('direction', 'unknown direction');
  if (command.view === 'INVALID') v.add('view', 'unknown view');
  v.nonNegative('max_depth', command.maxDepth);
  v.nonNegative('max_nodes', command.maxNodes);
  validateShaping(v, command);
  v.timestamp('as_of', command.asOf);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const shaping = lineageShaping(deps, principal, command);
  const root = await readableRoot(deps, principal, command.jobId, command.asOf);
  const directions = command.directions as LineageDirection[];
  const limits = { maxDepth: capped(command.maxDepth, deps.limits.maxLineageDepth), maxNodes: capped(command.maxNodes, deps.limits.maxLineageNodes) };
  const asOf = asOfFor(deps, principal, command.asOf);
  const viewer = viewerOf(deps, principal);
  const built = form !== 'objects' ? await builtWalk(deps, root, directions, limits, viewer, shaping, asOf) : undefined;
  if (built) {
    await nextTurn();
    const seen = await inTurns(viewer.columnsInSteps(built));
    deps.metrics.lineageAnswered(performance.now() - started, seen.columns.depths.length);
    if (form === 'columns') return seen;
    const { columns, ...rest } = seen;
    const lineage = { ...rest, root: { ...rowOf(root, 'SUMMARY'), record: await viewJob(deps, principal, root) }, nodes: new NodesOfColumns<JobView>(columns) };
    const parents = await inTurns(parentIndexesInSteps(lineage));
    return { lineage, readRecords: (from, to) => withRecords(deps, viewer, lineage, parents, from, to) };
  }
  const lineage = await walk(deps, root, directions, PROJECTIONS[command.view as keyof typeof PROJECTIONS], limits, viewer, shaping, asOf);
  await nextTurn();
  const seen = await asSeenBy(deps, principal, lineage);
  deps.metrics.lineageAnswered(performance.now() - started, seen.nodes.length);
  return seen;
}

/**
 * The lineage as the caller may see it; the ids its readable records name
 * beyond its rows are looked up in one store read. In steps, with turns of
 * the event loop between them (TURN_BUDGET_MS): the rows' access, the ids
 * their records name, the views.
 */
async function asSeenBy(deps: ServiceDependencies, principal: Principal, lineage: Lineage): Promise<Lineage<JobView>> {
  const viewer = viewerOf(deps, principal);
  // Without records (every view but FULL), no row names an id beyond the rows: there is no access to look up.
  if (!lineage.root.record) return inTurns(viewer.lineageInSteps(lineage, new Map()));
  const known = new Map<string, ReadableBy | undefined>([[lineage.root.jobId, lineage.root]]);
  await eachInTurns(lineage.nodes.length, (i) => known.set(lineage.nodes[i]!.row.jobId, lineage.nodes[i]!.row));
  const wanted = new Set<string>();
  const addNamed = (row: LineageRow) => {
    if (!row.record || !viewer.mayRead(row)) return;
    for (const id of referencedJobIds(row.record)) if (!known.has(id)) wanted.add(id);
  };
  addNamed(lineage.root);
  await eachInTurns(lineage.nodes.length, (i) => addNamed(lineage.nodes[i]!.row));
  if (wanted.size > 0) {
    for (const [id, job] of await knownJobs(deps, wanted)) known.set(id, job);
  }
  return inTurns(viewer.lineageInSteps(lineage, known));
}

/** Calls visit(0) to visit(count - 1), letting the event loop turn once TURN_BUDGET_MS is spent (looking at the clock every LINEAGE_STEP_SIZE calls). */
async function eachInTurns(count: number, visit: (index: number) => void): Promise<void> {
  const clock = new TurnClock();
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % LINEAGE_STEP_SIZE === 0 && clock.due()) await clock.turn();
    visit(i);
  }
}

/**
 * Jobs read per store read of withRecords and readInTurns: a record is read
 * and decoded in tens of microseconds, so that a read of this many stays
 * within about TURN_BUDGET_MS on a quiet machine.
 */
const RECORDS_PER_READ = 64;

/** The records of those of jobIds that exist, RECORDS_PER_READ a store read, with turns of the event loop between reads once TURN_BUDGET_MS is spent. */
async function readInTurns(deps: ServiceDependencies, jobIds: readonly string[]): Promise<JobRecord[]> {
  const clock = new TurnClock();
  const records: JobRecord[] = [];
  for (let from = 0; from < jobIds.length; from += RECORDS_PER_READ) {
    if (from > 0 && clock.due()) await clock.turn();
    records.push(...(await deps.store.getJobs(jobIds.slice(from, from + RECORDS_PER_READ))));
  }
  return records;
}

/**
 * Nodes from to to - 1 of a lineage with their records as the caller may
 * see them (LineageReadingRecords.readRecords), read RECORDS_PER_READ at a
 * time with turns of the event loop between reads once TURN_BUDGET_MS is
 * spent. Who may read the jobs their records name is known from the walk
 * for their parents in the lineage (parents), and looked up in one store
 * read per read for the others. Jobs are never deleted, so a node's job is
 * always found; its grants may have changed since the walk, which is why
 * readability is asked again of the record read.
 */
async function withRecords(
  deps: ServiceDependencies,
  viewer: JobViewer,
  lineage: LineageReadingRecords<JobView>['lineage'],
  parents: ParentIndexes,
  from: number,
  to: number,
): Promise<RecordsRead<JobView>> {
  const clock = new TurnClock();
  const { root, nodes } = lineage;
  const asked = nodes.slice(from, to);
  const read = asked.slice();
  for (let first = 0; first < asked.length; first += RECORDS_PER_READ) {
    if (first > 0 && clock.due()) await clock.turn();
    const part = asked.slice(first, first + RECORDS_PER_READ);
    const records = new Map((await deps.store.getJobs(part.filter((node) => !node.restricted).map((node) => node.row.jobId))).map((record) => [record.jobId, record]));
    const inLineage = new Map<string, ReadableBy>();
    for (let k = 0; k < part.length; k++) {
      // Index in [root, ...nodes] of node from + first + k.
      const index = from + first + k + 1;
      for (let p = parents.starts[index]!; p < parents.starts[index + 1]!; p++) {
        const parent = parents.parents[p]!;
        if (parent === 0) inLineage.set(root.jobId, root);
        else inLineage.set(nodes.jobId(parent - 1), nodes.access(parent - 1));
      }
    }
    const named = [...records.values()].flatMap(referencedJobIds);
    const known = new Map(await knownJobs(deps, named.filter((id) => !inLineage.has(id)), records.values()));
    for (const id of named) if (!known.has(id)) known.set(id, inLineage.get(id));
    part.forEach((node, k) => {
      if (node.restricted) return;
      const record = records.get(node.row.jobId);
      if (!record) throw new Error(`job ${node.row.jobId} of a lineage was not found`);
      read[first + k] = viewer.mayRead(record)
        ? { ...node, row: { ...rowOf(record, 'SUMMARY'), record: viewer.job(record, known) } }
        : restrictedNode(node, viewer.placeholder(record.jobId));
    });
  }
  return { nodes: read, restrictedSinceWalk: restrictedSinceWalk(asked, read) };
}

/** The root the caller may read, as it was at asOf when given (NOT_FOUND if created after). */
async function readableRoot(deps: ServiceDependencies, principal: Principal, jobId: string, asOf: Date | undefined): Promise<JobRecord> {
  const root = await readableJob(deps, principal, jobId);
  return asOf ? jobAsOf(deps, root, asOf) : root;
}

/** 0 means the configured maximum; larger requests are capped at it. */
function capped(requested: number, maximum: number): number {
  return requested === 0 ? maximum : Math.min(requested, maximum);
}

/**
 * One store query per direction, reaching one level past maxDepth so that
 * buildLineage can tell whether the depth limit cut anything, and asking for
 * one node more than maxNodes (LineageQuery.nearest), so that it can tell
 * whether the node limit did. The nodes of each depth are ordered, and cut,
 * as viewer is shown them (domain/shown-order.ts), by the store too.
 *
 * As of a time: the walk of the present graph, then the jobs created by then
 * with their states then, in one history read. Parents exist before their
 * children, so every job on a path between two jobs created by then was
 * created by then too: the shortest depths stay those of the present graph.
 * The store may not cut the walk to the nearest jobs, since jobs created
 * later may be among them: buildLineage cuts after the filter, and a walk
 * of more than AS_OF_WALK_FACTOR × the configured node limit is refused.
 */
async function walk(
  deps: ServiceDependencies,
  root: JobRecord,
  directions: readonly LineageDirection[],
  projection: LineageProjection,
  limits: { maxDepth: number; maxNodes: number },
  viewer: JobViewer,
  shaping?: Shaping,
  asOf?: AsOf,
): Promise<Lineage> {
  const selective = isSelective(shaping?.selection);
  // A filter tests fields the answer's view may not carry: the walk reads them, and the answer drops the records its view does not show.
  const walked = selective && RICHNESS[shaping!.projection] > RICHNESS[projection] ? shaping!.projection : projection;
  const built = walked === 'IDS' ? await builtWalk(deps, root, directions, limits, viewer, shaping, asOf) : undefined;
  if (built) return inTurns(lineageOfColumns(built));
  const query = async (direction: LineageDirection) => {
    if (!directions.includes(direction)) return undefined;
    const lineageQuery = { rootId: root.jobId, direction, maxDepth: limits.maxDepth + 1, projection: walked, shownTo: viewer.shownTo };
    if (!asOf && !selective) return deps.store.lineage({ ...lineageQuery, nearest: limits.maxNodes + 1 });
    // A selection, like as_of, chooses among every job within maxDepth, so the store may not cut the nearest ones first: it reads a bounded number.
    const readLimit = AS_OF_WALK_FACTOR * deps.limits.maxLineageNodes;
    const rows = await deps.store.lineage({ ...lineageQuery, nearest: readLimit });
    // More rows than asked for as nearest: the walk found more jobs than that (LineageQuery.nearest).
    if (rows.length > readLimit) throw asOf ? asOfLineageTooLarge(root.jobId, direction, readLimit) : selectionWalkTooLarge(root.jobId, direction, readLimit);
    return asOf ? rowsAsOf(deps, rows, asOf) : rows;
  };
  const [ancestors, descendants] = await Promise.all([query('ANCESTORS'), query('DESCENDANTS')]);
  // Receiving the rows, building the answer and filtering it take tens of milliseconds each on a large lineage: other calls run between their steps.
  const lineage = await inTurns(buildLineageInSteps(rowOf(root, walked), { ancestors, descendants }, limits, shaping?.selection, viewer));
  if (walked !== 'FULL' || projection === 'FULL') return lineage;
  return { ...lineage, root: withoutRecord(lineage.root), nodes: lineage.nodes.map((node) => ({ ...node, row: withoutRecord(node.row) })) };
}

/**
 * The walk built where the graph is held, from its indexes, when the store
 * can (ProvenanceStore.builtLineage) and the question is one it answers (no
 * filter, caps or as_of; the IDS projection): the answer buildLineage would
 * build, at a fraction of the work, ordered as viewer is shown its jobs.
 */
async function builtWalk(
  deps: ServiceDependencies,
  root: JobRecord,
  directions: readonly LineageDirection[],
  limits: { maxDepth: number; maxNodes: number },
  viewer: JobViewer,
  shaping: Shaping | undefined,
  asOf: AsOf | undefined,
): Promise<ColumnarLineage | undefined> {
  if (asOf || isSelective(shaping?.selection)) return undefined;
  const built = await deps.store.builtLineage?.({ rootId: root.jobId, directions, ...limits, shownTo: viewer.shownTo });
  return built && { root: rowOf(root, 'IDS'), ...built, hiddenNodeCount: 0 };
}

const RICHNESS: Record<LineageProjection, number> = { IDS: 0, SUMMARY: 1, FULL: 2 };

function withoutRecord(row: LineageRow): LineageRow {
  const { record: _record, ...rest } = row;
  return rest;
}

/** A request's filter and caps, ready for the walk: the selection, and the projection its filter needs. */
interface Shaping {
  selection: LineageSelection;
  projection: LineageProjection;
}

function validateShaping(v: Violations, shaping: LineageShaping): void {
  if (shaping.filterMode === 'INVALID') v.add('filter_mode', 'unknown filter mode');
  v.nonNegative('max_children_per_node', shaping.maxChildrenPerNode ?? 0);
  v.nonNegative('max_parents_per_node', shaping.maxParentsPerNode ?? 0);
}

/**
 * The selection of a valid request (the filter parsed: INVALID_ARGUMENT
 * naming filter). A job the caller may not read never matches, so that a
 * filter tells nothing of it; caps above the configured maximum node count
 * are capped at it.
 */
function lineageShaping(deps: ServiceDependencies, principal: Principal, shaping: LineageShaping): Shaping {
  const filter = shaping.filter ? parseJobFilter(shaping.filter) : undefined;
  const hasConditions = filter !== undefined && Object.keys(filter).length > 0;
  const viewer = viewerOf(deps, principal);
  const cap = (requested: number | undefined) => Math.min(requested ?? 0, deps.limits.maxLineageNodes);
  const selection: LineageSelection = {
    ...(hasConditions ? { matches: (row: LineageRow) => viewer.mayRead(row) && jobMatches(row, filter) } : {}),
    mode: shaping.filterMode === 'PRUNE' ? 'PRUNE' : 'COLLAPSE',
    maxChildrenPerNode: cap(shaping.maxChildrenPerNode),
    maxParentsPerNode: cap(shaping.maxParentsPerNode),
  };
  return { selection, projection: !hasConditions ? 'IDS' : filterNeedsRecord(filter) ? 'FULL' : 'SUMMARY' };
}

/** A job as the store would return its row in that projection: its whole record in FULL only. */
function rowOf(job: JobRecord, projection: LineageProjection): LineageRow {
  return {
    jobId: job.jobId,
    parentIds: job.parentIds,
    tenant: job.tenant,
    readers: job.readers,
    type: job.type,
    status: job.status,
    cacheState: job.cacheState,
    ...(projection === 'FULL' ? { record: job } : {}),
  };
}

/** One StreamLineage message, as the caller may see it. */
export interface LineageStreamMessage {
  /** In the first message of a stream that did not resume. */
  root?: LineageRow<JobView>;
  /** With root: what the fan-out caps left out of its children or parents. */
  rootFanOut?: FanOut;
  nodes: Array<LineageNode<JobView>>;
  edges: LineageEdge[];
  resumeToken: string;
  /** In the last message only: the limits that cut the lineage (possibly none). */
  truncation?: TruncationReason[];
}

/**
 * StreamLineage: GetLineage's lineage in the IDS view (same order, same
 * placeholders, same depth limit; PROVENANCE_MAX_STREAM_LINEAGE_NODES for
 * the node limit), walked a layer at a time as the messages are asked for
 * (domain/lineage-stream.ts): the service holds the ids reached and one
 * store step, never the lineage. A resume token names the last node sent
 * (encrypted, bound to the query and the caller); a resumed stream walks
 * again up to that node, sending nothing, and goes on after it, so nothing
 * is sent twice (docs/decisions.md, "Streamed lineage").
 */
export async function streamLineage(deps: ServiceDependencies, principal: Principal, command: StreamLineageCommand): Promise<AsyncIterable<LineageStreamMessage>> {
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  if (command.directions === 'INVALID') v.add('direction', 'unknown direction');
  v.nonNegative('max_depth', command.maxDepth);
  v.nonNegative('max_message_nodes', command.maxMessageNodes);
  validateShaping(v, command);
  v.timestamp('as_of', command.asOf);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const shaping = lineageShaping(deps, principal, command);
  const directions = command.directions as LineageDirection[];
  const query = {
    method: 'StreamLineage',
    jobId: command.jobId,
    directions,
    maxDepth: command.maxDepth,
    tenant: principal.tenant,
    subject: principal.subject,
    // Bound only when given, so that the tokens of a stream without them read as before they existed.
    ...(command.filter ? { filter: command.filter, filterMode: shaping.selection.mode } : {}),
    ...(command.maxChildrenPerNode ? { maxChildrenPerNode: command.maxChildrenPerNode } : {}),
    ...(command.maxParentsPerNode ? { maxParentsPerNode: command.maxParentsPerNode } : {}),
    ...asOfKey(command.asOf),
  };
  const resumeAfter = command.resumeToken ? streamPosition(decodePageToken(command.resumeToken, query, deps.secret, 'resume_token')) : undefined;
  const root = await readableRoot(deps, principal, command.jobId, command.asOf);
  // A filter or a cap needs the whole walk (collapsed edges, kept children), as as_of does (the states of then, read in bulk): that stream holds it, within the GetLineage limits.
  if (isSelective(shaping.selection) || command.asOf) return shapedStream(deps, principal, { root, directions, command, shaping, query, resumeAfter });
  const viewer = viewerOf(deps, principal);
  const walk = new LineageStreamWalk({
    rootId: root.jobId,
    directions,
    maxDepth: capped(command.maxDepth, deps.limits.maxLineageDepth),
    maxNodes: deps.limits.maxStreamLineageNodes,
    ...(resumeAfter ? { resumeAfter } : {}),
    mayRead: (row) => viewer.mayRead(row),
    placeholder: (jobId) => viewer.placeholder(jobId),
  });
  const messageNodes = capped(command.maxMessageNodes, LINEAGE_STREAM_SLICE_NODES);
  // The caller may read the root, and the IDS view shows nothing of its record.
  const rootView: LineageRow<JobView> = { jobId: root.jobId, parentIds: root.parentIds, tenant: root.tenant, readers: root.readers };
  const message = (streamed: readonly StreamedNode[], first: boolean, after: StreamPosition, truncation?: TruncationReason[]): LineageStreamMessage => ({
    ...(first ? { root: rootView } : {}),
    nodes: streamed.map((s) => s.node),
    edges: streamed.flatMap((s) => s.edges),
    // A message without nodes (the root's alone, or the closing one of a stream resumed after its end) names the position it follows.
    resumeToken: encodePageToken(query, { ...(streamed.at(-1)?.position ?? after) }, deps.secret),
    ...(truncation ? { truncation } : {}),
  });
  /** A step's read, already handled, so that a stream abandoned with a read in flight leaves no unhandled rejection; awaiting it still throws. */
  const readStep = (jobIds: string[] | undefined): Promise<LineageStepRow[]> | undefined => {
    if (!jobIds) return undefined;
    const read = deps.store.lineageStep(jobIds);
    read.catch(() => undefined);
    return read;
  };
  async function* messages(): AsyncGenerator<LineageStreamMessage> {
    let first = resumeAfter === undefined;
    let after: StreamPosition = resumeAfter ?? { depth: 0, relation: 'ROOT', jobId: root.jobId };
    let pending: StreamedNode[] = [];
    let reading = readStep(walk.nextStep());
    while (reading) {
      pending.push(...walk.accept(await reading));
      // The next step is read while this one's messages are sent: one step ahead at most, so that memory stays two steps and a message.
      reading = readStep(walk.nextStep());
      // A message goes once a node follows it, so that the last one, which says so, is never one that turns out full.
      while (pending.length > messageNodes) {
        const sent = pending.slice(0, messageNodes);
        pending = pending.slice(messageNodes);
        yield message(sent, first, after);
        first = false;
        after = sent.at(-1)!.position;
      }
    }
    yield message(pending, first, after, walk.truncationReasons());
  }
  return messages();
}

interface ShapedStream {
  root: JobRecord;
  directions: LineageDirection[];
  command: StreamLineageCommand;
  shaping: Shaping;
  query: JsonObject;
  resumeAfter: StreamPosition | undefined;
}

/** StreamLineage with a filter or a fan-out cap: the lineage walked and shaped whole, as GetLineage does, then sent in slices. */
async function shapedStream(deps: ServiceDependencies, principal: Principal, stream: ShapedStream): Promise<AsyncIterable<LineageStreamMessage>> {
  const { root, directions, command, shaping, query, resumeAfter } = stream;
  const limits = { maxDepth: capped(command.maxDepth, deps.limits.maxLineageDepth), maxNodes: deps.limits.maxLineageNodes };
  const lineage = await walk(deps, root, directions, 'IDS', limits, viewerOf(deps, principal), shaping, asOfFor(deps, principal, command.asOf));
  await nextTurn();
  const seen = await asSeenBy(deps, principal, lineage);
  const start = resumeAfter ? firstPositionAfter(seen, resumeAfter) : 0;
  const { starts, edgeNumbers } = edgesByLaterEndpoint(lineage.edgeIndexes, lineage.nodes.length);
  const idAt = (position: number) => (position === 0 ? seen.root.jobId : seen.nodes[position - 1]!.row.jobId);
  const keyAt = (position: number): StreamPosition => (position === 0 ? { depth: 0, relation: 'ROOT', jobId: root.jobId } : positionOf(seen.nodes[position - 1]!));
  async function* messages(): AsyncGenerator<LineageStreamMessage> {
    for (const { from, to } of streamSlices(lineage.nodes.length, start, capped(command.maxMessageNodes, LINEAGE_STREAM_SLICE_NODES))) {
      const edges: LineageEdge[] = [];
      for (let e = starts[from]!; e < starts[to]!; e++) {
        const k = edgeNumbers[e]!;
        edges.push({ parentJobId: idAt(lineage.edgeIndexes[2 * k]!), childJobId: idAt(lineage.edgeIndexes[2 * k + 1]!) });
      }
      const last = to === lineage.nodes.length + 1;
      yield {
        ...(from === 0 ? { root: seen.root, ...(seen.rootFanOut ? { rootFanOut: seen.rootFanOut } : {}) } : {}),
        nodes: seen.nodes.slice(Math.max(from, 1) - 1, to - 1),
        edges,
        // The closing message of a stream resumed after its end names the same last node.
        resumeToken: encodePageToken(query, { ...keyAt(Math.max(to, 1) - 1) }, deps.secret),
        ...(last ? { truncation: lineage.truncation } : {}),
      };
    }
  }
  return messages();
}

/** What binds a page or resume token to its as_of: a token of another as_of (or none) is INVALID_ARGUMENT. */
function asOfKey(asOf: Date | undefined): { asOf?: number } {
  return asOf ? { asOf: asOf.getTime() } : {};
}

/** The time the caller asked to be answered as of, with what it may read; undefined for now. */
function asOfFor(deps: ServiceDependencies, principal: Principal, time: Date | undefined): AsOf | undefined {
  if (!time) return undefined;
  const viewer = viewerOf(deps, principal);
  return { time, mayRead: (job) => viewer.mayRead(job) };
}

/** The node a resume token names, or INVALID_ARGUMENT. */
function streamPosition(position: Record<string, unknown>): StreamPosition {
  const { depth, relation, jobId, hidden } = position;
  const relations: unknown[] = ['ROOT', 'ANCESTOR', 'DESCENDANT'];
  if (typeof depth === 'number' && typeof jobId === 'string' && relations.includes(relation) && (hidden === undefined || hidden === true)) {
    return { depth, relation: relation as StreamPosition['relation'], jobId, ...(hidden ? { hidden } : {}) };
  }
  throw invalidArgument([{ field: 'resume_token', description: 'is not a resume token this service issued' }]);
}

/** A dependent the caller may read, with its record; or one it may not, under an opaque id only. */
export type Dependent = { job: JobView; depth: number } | { restrictedJobId: string; depth: number };

export interface DependentsPage {
  dependents: Dependent[];
  nextPageToken: string;
  truncated: boolean;
  hiddenNodeCount: number;
}

export async function listDependents(deps: ServiceDependencies, principal: Principal, command: ListDependentsCommand): Promise<DependentsPage> {
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  v.nonNegative('page_size', command.pageSize);
  v.timestamp('as_of', command.asOf);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const query = { method: 'ListDependents', jobId: command.jobId, transitive: command.transitive, tenant: principal.tenant, subject: principal.subject, ...asOfKey(command.asOf) };
  const position = command.pageToken ? decodePageToken(command.pageToken, query, deps.secret) : undefined;
  const after = position ? dependentPosition(position) : undefined;
  const pageSize = effectivePageSize(command.pageSize);
  const root = await readableRoot(deps, principal, command.jobId, command.asOf);
  const asOf = asOfFor(deps, principal, command.asOf);
  const viewer = viewerOf(deps, principal);

  // The walk of the sequence's first page when this process still holds it (docs/decisions.md, Lineage); else a walk now, kept for the next pages.
  // Children too come from a walk (of depth 1), so that they are ordered as the caller is shown them (domain/shown-order.ts), and as of a time, without those created later.
  const keptId = typeof position?.snapshot === 'string' ? position.snapshot : undefined;
  const kept = keptId === undefined ? undefined : deps.dependentsSnapshots.get(keptId);
  const snapshot = kept?.rootId === root.jobId ? kept : await walkDependents(deps, root, command.transitive, viewer, asOf);
  const first = after ? firstAfter(snapshot, after, viewer) : 0;
  const end = Math.min(snapshot.depths.length, first + pageSize + 1);
  const candidates: Array<{ jobId: string; depth: number }> = [];
  for (let i = first; i < end; i++) candidates.push({ jobId: utf8StringAt(snapshot.jobIds, i), depth: snapshot.depths[i]! });
  const records = await pageRecords(deps, candidates.slice(0, pageSize), asOf);
  // A job deleted since the walk (the service deletes none; an operator may) is no longer a dependent.
  const page = candidates.slice(0, pageSize).flatMap((d) => {
    const job = records.get(d.jobId);
    return job ? [{ job, depth: d.depth }] : [];
  });
  const shown = page.filter((d) => viewer.mayRead(d.job)).map((d) => d.job);
  const views = new Map((await viewJobs(deps, principal, shown, [root, ...page.map((d) => d.job)])).map((view) => [view.jobId, view]));
  const dependents = page.map((d): Dependent => (viewer.mayRead(d.job) ? { job: views.get(d.job.jobId)!, depth: d.depth } : { restrictedJobId: viewer.placeholder(d.job.jobId), depth: d.depth }));
  const hiddenNodeCount = dependents.filter((d) => 'restrictedJobId' in d).length;
  if (candidates.length <= pageSize) return { dependents, nextPageToken: '', truncated: snapshot.truncated, hiddenNodeCount };
  const snapshotId = snapshot === kept ? keptId : deps.dependentsSnapshots.keep(snapshot);
  const next = { ...snapshotPosition(snapshot, first + pageSize - 1, viewer), ...(snapshotId ? { snapshot: snapshotId } : {}) };
  return { dependents, nextPageToken: encodePageToken(query, next, deps.secret), truncated: snapshot.truncated, hiddenNodeCount };
}

/** Where a ListDependents page ends: a job's depth and the id the caller is shown (its placeholder when hidden, as the walk found). */
interface DependentPosition extends ShownId {
  depth: number;
}

/** The position a page token names, or INVALID_ARGUMENT. Tokens issued before placeholders were ordered name a job id alone. */
function dependentPosition(position: Record<string, unknown>): DependentPosition {
  const { depth, jobId, hidden } = position;
  if (typeof depth === 'number' && typeof jobId === 'string' && jobId !== '' && (hidden === undefined || hidden === true)) return { depth, jobId, ...(hidden ? { hidden } : {}) };
  throw invalidArgument([{ field: 'page_token', description: 'is not a page token this service issued' }]);
}

/** The position of the snapshot's job i as the caller is shown it. */
function snapshotPosition(snapshot: DependentsSnapshot, i: number, viewer: JobViewer): DependentPosition {
  const jobId = utf8StringAt(snapshot.jobIds, i);
  return snapshot.hidden[i] ? { depth: snapshot.depths[i]!, jobId: viewer.placeholder(jobId), hidden: true } : { depth: snapshot.depths[i]!, jobId };
}

/**
 * Every descendant of the root within the configured limits (children
 * only, unless transitive), nearest first, as the caller is shown them
 * (domain/shown-order.ts), from a walk in the ids view: what each job is
 * is read for the jobs of a page only. Where the store builds the lineage,
 * its columns are the snapshot as they are, without an object or a string
 * per job.
 */
async function walkDependents(deps: ServiceDependencies, root: JobRecord, transitive: boolean, viewer: JobViewer, asOf: AsOf | undefined): Promise<DependentsSnapshot> {
  const maxDepth = transitive ? deps.limits.maxLineageDepth : 1;
  const limits = { maxDepth, maxNodes: deps.limits.maxLineageNodes };
  // Children only: grandchildren are not a cut.
  const truncated = (truncation: readonly TruncationReason[]) => truncation.some((reason) => transitive || reason === 'MAX_NODES');
  const built = await builtWalk(deps, root, ['DESCENDANTS'], limits, viewer, undefined, asOf);
  if (built) {
    const { jobIds, depths, accessIndexes, accesses } = built.columns;
    const readable = accesses.map((access) => viewer.mayRead(access));
    const hidden = new Uint8Array(depths.length);
    await eachInTurns(depths.length, (i) => (hidden[i] = readable[accessIndexes[i]!] ? 0 : 1));
    return { rootId: root.jobId, jobIds, depths, hidden, truncated: truncated(built.truncation) };
  }
  const lineage = await walk(deps, root, ['DESCENDANTS'], 'IDS', limits, viewer, undefined, asOf);
  const jobIds: string[] = new Array(lineage.nodes.length);
  const depths = new Int32Array(lineage.nodes.length);
  const hidden = new Uint8Array(lineage.nodes.length);
  await eachInTurns(lineage.nodes.length, (i) => {
    const node = lineage.nodes[i]!;
    jobIds[i] = node.row.jobId;
    depths[i] = node.depth;
    hidden[i] = viewer.mayRead(node.row) ? 0 : 1;
  });
  return { rootId: root.jobId, jobIds: toUtf8Strings(jobIds), depths, hidden, truncated: truncated(lineage.truncation) };
}

/** The index of the first job after the position in the snapshot's order (binary search; a placeholder is made for each hidden job it meets). */
function firstAfter(snapshot: DependentsSnapshot, after: DependentPosition, viewer: JobViewer): number {
  let low = 0;
  let high = snapshot.depths.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const middleDepth = snapshot.depths[middle]!;
    const position = middleDepth === after.depth ? snapshotPosition(snapshot, middle, viewer) : undefined;
    if (middleDepth < after.depth || (position && compareShownIds(position, after) <= 0)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The whole records of a page's jobs, in one store read (and one history read as of a time). */
async function pageRecords(deps: ServiceDependencies, page: ReadonlyArray<{ jobId: string }>, asOf: AsOf | undefined): Promise<Map<string, JobRecord>> {
  const jobs = await deps.store.getJobs(page.map((d) => d.jobId));
  const records = asOf ? (await rowsAsOf(deps, jobs.map((job) => ({ ...job, record: job })), asOf)).map((row) => row.record!) : jobs;
  return new Map(records.map((job) => [job.jobId, job]));
}

export interface ExportCommand extends LineageShaping {
  jobId: string;
  directions: LineageDirection[] | 'INVALID';
  maxDepth: number;
  /** The graph as it was then; undefined: now. */
  asOf?: Date;
  /** Whether the format shows whole records (exportReadsRecords); without, a lineage the store does not build is walked with each job's type and status only (the BASIC view). */
  wholeRecords: boolean;
}


export interface ReproducibilityReport {
  jobId: string;
  /**
   * The issues in the report's order (ReproducibilityCheck), a part at a
   * time: a whole ancestry's records are read, checked and dropped a part at
   * a time as the answer is written. Iterated once; an empty report is a
   * reproducible job.
   */
  issueParts: AsyncIterable<readonly ReproducibilityIssue[]>;
  checkedAncestorCount: number;
}

/** The ancestors CheckReproducibility checks, nearest first, and how their records are read. */
interface AncestryToCheck {
  count: number;
  /** Whether ancestors exist beyond the lineage limits. */
  truncated: boolean;
  /** The ids of ancestors from to to - 1. */
  idsOf(from: number, to: number): string[];
  /** The records of those of jobIds that exist. */
  read(jobIds: readonly string[]): Promise<JobRecord[]>;
}

/** Ancestors checked between two parts of the report. */
const ANCESTORS_PER_PART = 250;

/**
 * Records a part's reads may keep for the parts after it: the parents read
 * for one part are mostly the ancestors of the next ones (nearest first), so
 * they are not read twice. Past this, the oldest are dropped.
 */
const KEPT_RECORDS = 4096;

export async function checkJobReproducibility(deps: ServiceDependencies, principal: Principal, jobId: string): Promise<ReproducibilityReport> {
  const job = await readableJob(deps, principal, jobId);
  const viewer = viewerOf(deps, principal);
  const ancestry = await ancestryToCheck(deps, job, viewer);
  const check = new ReproducibilityCheck({
    volatileKeys: deps.limits.volatileKeys,
    hasHandler: (type, providerId) => deps.handlers.find(type, providerId) !== undefined,
    tenantCacheSalt: (tenant) => deps.execution.tenantCacheSalts.get(tenant),
    viewer,
  });
  return { jobId: job.jobId, issueParts: checkedInParts(deps, job, ancestry, check), checkedAncestorCount: ancestry.count };
}

/**
 * The ancestry within the lineage limits. Where the store builds the
 * lineage (builtWalk), its ids come from the walk and the records are read
 * by id as the check goes; elsewhere, the walk reads every record within
 * one level beyond the limits (for the parents of the farthest checked
 * ones) and the check looks them up there.
 */
async function ancestryToCheck(deps: ServiceDependencies, job: JobRecord, viewer: JobViewer): Promise<AncestryToCheck> {
  const limits = { maxDepth: deps.limits.maxLineageDepth, maxNodes: deps.limits.maxLineageNodes };
  const built = await builtWalk(deps, job, ['ANCESTORS'], limits, viewer, undefined, undefined);
  if (built) {
    const ids = built.columns.jobIds;
    return { count: utf8StringCount(ids), truncated: built.truncation.length > 0, idsOf: (from, to) => utf8StringsIn(ids, from, to), read: (jobIds) => readInTurns(deps, jobIds) };
  }
  const found = await deps.store.lineage({ rootId: job.jobId, direction: 'ANCESTORS', maxDepth: limits.maxDepth + 1, projection: 'FULL' });
  // Building the ancestry takes tens of milliseconds on a large one: other calls run between its steps.
  const lineage = await inTurns(buildLineageInSteps(rowOf(job, 'FULL'), { ancestors: found }, limits, undefined, viewer));
  // The job itself too: on a cycle (older data may hold one) it is a parent of its own ancestors.
  const known = new Map<string, JobRecord>([[job.jobId, job]]);
  await eachInTurns(found.length, (i) => known.set(found[i]!.jobId, found[i]!.record!));
  return {
    count: lineage.nodes.length,
    truncated: lineage.truncation.length > 0,
    idsOf: (from, to) => lineage.nodes.slice(from, to).map((node) => node.row.jobId),
    read: async (jobIds) => jobIds.flatMap((id) => known.get(id) ?? []),
  };
}

/**
 * The check's issues, ANCESTORS_PER_PART ancestors a part (the job's own
 * with the first): the part's records are read, then those of their parents
 * not read yet, the part checked, with turns of the event loop between
 * records once TURN_BUDGET_MS is spent (each is hashed twice), and all but
 * the last KEPT_RECORDS read dropped.
 */
async function* checkedInParts(deps: ServiceDependencies, job: JobRecord, ancestry: AncestryToCheck, check: ReproducibilityCheck): AsyncGenerator<ReproducibilityIssue[]> {
  const clock = new TurnClock();
  const kept = new Map<string, JobRecord>([[job.jobId, job]]);
  let issueCount = 0;
  const readMissing = async (jobIds: Iterable<string>) => {
    const missing = [...new Set(jobIds)].filter((id) => !kept.has(id));
    for (const record of await ancestry.read(missing)) kept.set(record.jobId, record);
  };
  for (let from = 0; from === 0 || from < ancestry.count; from += ANCESTORS_PER_PART) {
    const ids = ancestry.idsOf(from, Math.min(ancestry.count, from + ANCESTORS_PER_PART));
    await readMissing(ids);
    const records = ids.map((id) => {
      const record = kept.get(id);
      // Jobs are never deleted: an ancestor the walk found has a record.
      if (!record) throw new Error(`job ${id} of an ancestry was not found`);
      return record;
    });
    await readMissing(records.flatMap((record) => record.parentIds));
    const issues = from === 0 ? check.issuesOf(job, true, kept) : [];
    for (const record of records) {
      if (clock.due()) await clock.turn();
      issues.push(...check.issuesOf(record, false, kept));
    }
    for (const id of kept.keys()) {
      if (kept.size <= KEPT_RECORDS) break;
      kept.delete(id);
    }
    issueCount += issues.length;
    if (issues.length > 0) yield issues;
  }
  if (ancestry.truncated) yield [check.truncation(job.jobId)];
  deps.metrics.reproducibilityChecked(issueCount === 0 && !ancestry.truncated ? 'reproducible' : 'not_reproducible');
}
