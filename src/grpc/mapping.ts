import type { LineageCommand, LineageShaping, LineageView, RecordJobCommand, RerunJobCommand, SetReaderSubjectsCommand, SubmitJobCommand, WatchEventsCommand } from '../domain/commands.js';
import type { DocumentFormat } from '../domain/graph-export/index.js';
import { eachInSteps } from '../domain/graph-export/in-steps.js';
import type { ReproducibilityReport } from '../service/lineage-queries.js';
import type { StoredAuditEntry } from '../domain/ports/audit-log.js';
import type { AuditEvent } from '@provenance/client/gen/provenance/v1/audit';
import type { CachePolicy, JobStatus } from '../domain/job.js';
import type { EventView, JobView } from '../domain/job-view.js';
import type { JsonObject } from '../domain/json.js';
import type { LineageFilterMode } from '../domain/lineage-selection.js';
import { edgesNamed, shownIds, type Lineage, type LineageDirection, type LineageEdge, type LineageNode as DomainLineageNode, type LineageReadingRecords } from '../domain/lineage.js';
import type { Duration } from '@provenance/client/gen/google/protobuf/duration';
import { CachePolicy as ProtoCachePolicy, CacheState, Job, JobOrigin, JobStatus as ProtoJobStatus } from '@provenance/client/gen/provenance/v1/job';
import { CompactLineage, type FanOutTruncation, LineageDirection as ProtoDirection, LineageFilterMode as ProtoFilterMode, LineageNode, LineageRelation, LineageView as ProtoView, TruncationReason } from '@provenance/client/gen/provenance/v1/lineage';
import { StartPosition, type ProvenanceEvent } from '@provenance/client/gen/provenance/v1/event';
import {
  CheckReproducibilityResponse,
  ExportProvenanceGraphResponse,
  GetLineageResponse,
  GraphFormat,
  ReproducibilityIssueReason,
  type RecordJobRequest, type RerunJobRequest, type SetReaderSubjectsRequest, type SubmitJobRequest, type WatchEventsRequest } from '@provenance/client/gen/provenance/v1/provenance_service';

/** Protobuf messages ⇄ domain values. Proto3 defaults (empty strings, zero enums) become absent values here and nowhere else. */

type ProtoEnum = Record<string, string | number>;

/** A domain name from a proto enum value: undefined for the zero value, 'INVALID' for values outside the enum. */
function fromProtoEnum<T extends string>(protoEnum: ProtoEnum, prefix: string, value: number): T | 'INVALID' | undefined {
  if (value === 0) return undefined;
  const name = protoEnum[value];
  return typeof name === 'string' && name.startsWith(prefix) ? (name.slice(prefix.length) as T) : 'INVALID';
}

export function toProtoEnum(protoEnum: ProtoEnum, prefix: string, name: string): number {
  return protoEnum[prefix + name] as number;
}

export function jobStatusFromProto(value: number): JobStatus | 'INVALID' | undefined {
  return fromProtoEnum<JobStatus>(ProtoJobStatus, 'JOB_STATUS_', value);
}

export function toRecordJobCommand(request: RecordJobRequest): RecordJobCommand {
  const error = request.error;
  return {
    jobId: request.jobId || undefined,
    requestId: request.requestId || undefined,
    type: request.type,
    payload: (request.payload ?? {}) as JsonObject,
    provider: { id: request.provider?.id ?? '', model: request.provider?.model ?? '', version: request.provider?.version ?? '' },
    parentIds: request.parentJobIds,
    status: jobStatusFromProto(request.status),
    startedAt: request.startTime,
    completedAt: request.completeTime,
    outputHash: request.outputHash || undefined,
    output: request.output,
    error:
      error && (error.reason || error.message || error.dependencyJobId)
        ? { reason: error.reason, message: error.message, ...(error.dependencyJobId ? { dependencyJobId: error.dependencyJobId } : {}) }
        : undefined,
    labels: request.labels,
    metadata: (request.metadata ?? {}) as JsonObject,
    allowMissingParents: request.allowMissingParents,
    readers: request.readerSubjects,
    attempt: request.attempt,
    etag: request.etag || undefined,
    cacheSalt: request.cacheSalt || undefined,
  };
}

/** Only views reach the wire: a record as its caller may see it (job-view.ts). */
export function toJobMessage(record: JobView): Job {
  return {
    jobId: record.jobId,
    type: record.type,
    payload: record.payload,
    definitionHash: record.definitionHash,
    inputHash: record.inputHash,
    provider: record.provider,
    parentJobIds: record.parentIds,
    status: toProtoEnum(ProtoJobStatus, 'JOB_STATUS_', record.status),
    cacheState: toProtoEnum(CacheState, 'CACHE_STATE_', record.cacheState),
    result: record.result && {
      outputHash: record.result.outputHash,
      output: record.result.output,
      cached: record.result.cached,
      cachedFromJobId: record.result.cachedFromJobId ?? '',
    },
    error: record.error && { reason: record.error.reason, message: record.error.message, dependencyJobId: record.error.dependencyJobId ?? '' },
    createTime: record.createdAt,
    startTime: record.startedAt,
    completeTime: record.completedAt,
    duration: record.durationMs === undefined ? undefined : toDuration(record.durationMs),
    attempt: record.attempt,
    rerunOfJobId: record.rerunOfJobId ?? '',
    labels: record.labels,
    metadata: record.metadata,
    tenant: record.tenant,
    owner: record.owner,
    readerSubjects: record.readers,
    etag: record.etag,
    origin: toProtoEnum(JobOrigin, 'JOB_ORIGIN_', record.origin),
    payloadRedacted: record.payloadRedacted,
    restricted: false,
    updateTime: record.updatedAt,
    cachePolicy: record.cachePolicy ? toProtoEnum(ProtoCachePolicy, 'CACHE_POLICY_', record.cachePolicy) : ProtoCachePolicy.CACHE_POLICY_UNSPECIFIED,
    cacheSalt: record.cacheSalt ?? '',
    tenantCacheSalt: record.tenantCacheSalt ?? '',
  };
}

function cachePolicyFromProto(value: number): CachePolicy | 'INVALID' | undefined {
  return fromProtoEnum<CachePolicy>(ProtoCachePolicy, 'CACHE_POLICY_', value);
}

export function toSubmitJobCommand(request: SubmitJobRequest): SubmitJobCommand {
  const cachePolicy = cachePolicyFromProto(request.cachePolicy);
  return {
    ...(request.jobId ? { jobId: request.jobId } : {}),
    type: request.type,
    payload: (request.payload ?? {}) as JsonObject,
    provider: { id: request.provider?.id ?? '', model: request.provider?.model ?? '', version: request.provider?.version ?? '' },
    parentIds: request.parentJobIds,
    labels: request.labels,
    metadata: (request.metadata ?? {}) as JsonObject,
    readers: request.readerSubjects,
    ...(cachePolicy ? { cachePolicy } : {}),
    ...(request.requestId ? { requestId: request.requestId } : {}),
    ...(request.cacheSalt ? { cacheSalt: request.cacheSalt } : {}),
  };
}

export function toSetReaderSubjectsCommand(request: SetReaderSubjectsRequest): SetReaderSubjectsCommand {
  return { jobId: request.jobId, readers: request.readerSubjects, ...(request.etag ? { etag: request.etag } : {}) };
}

export function toRerunJobCommand(request: RerunJobRequest): RerunJobCommand {
  const change = request.payloadChange;
  const cachePolicy = cachePolicyFromProto(request.cachePolicy);
  return {
    jobId: request.jobId,
    ...(change?.$case === 'payloadOverrides' ? { payloadOverrides: (change.value ?? {}) as JsonObject } : {}),
    ...(change?.$case === 'payloadReplacement' ? { payloadReplacement: (change.value ?? {}) as JsonObject } : {}),
    parentIds: request.parentJobIds,
    replaceParents: request.replaceParents,
    ...(cachePolicy ? { cachePolicy } : {}),
    ...(request.requestId ? { requestId: request.requestId } : {}),
    ...(request.cacheSalt ? { cacheSalt: request.cacheSalt } : {}),
  };
}

/** A job the caller may not read: its opaque id, and nothing else. */
export function restrictedJob(opaqueId: string): Job {
  return { ...Job.fromPartial({}), jobId: opaqueId, restricted: true };
}

/** An entry of another tenant's caller shows that caller's tenant (and the empty subject it was written with). */
export function toAuditEventMessage(entry: StoredAuditEntry): AuditEvent {
  return {
    auditEventId: entry.id,
    subject: entry.subject,
    tenant: entry.callerTenant ?? entry.tenant,
    method: entry.method,
    jobIds: entry.jobIds,
    time: entry.time,
    outcome: entry.outcome,
  };
}

function toDuration(ms: number): Duration {
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** LINEAGE_DIRECTION_UNSPECIFIED and BOTH walk both ways. */
export function directionsFromProto(value: number): LineageDirection[] | 'INVALID' {
  const name = fromProtoEnum<'ANCESTORS' | 'DESCENDANTS' | 'BOTH'>(ProtoDirection, 'LINEAGE_DIRECTION_', value);
  if (name === 'INVALID') return name;
  return name === undefined || name === 'BOTH' ? ['ANCESTORS', 'DESCENDANTS'] : [name];
}

/** Unspecified means NATIVE. */
export function graphFormatFromProto(value: number): DocumentFormat | 'NATIVE' | 'INVALID' {
  return fromProtoEnum<DocumentFormat | 'NATIVE'>(GraphFormat, 'GRAPH_FORMAT_', value) ?? 'NATIVE';
}

export function toProtoGraphFormat(format: DocumentFormat | 'NATIVE'): GraphFormat {
  return toProtoEnum(GraphFormat, 'GRAPH_FORMAT_', format);
}

/** The request's filter and caps; an unspecified mode means COLLAPSE. */
export function lineageShapingFromProto(request: { filter: string; filterMode: number; maxChildrenPerNode: number; maxParentsPerNode: number }): LineageShaping {
  return {
    filter: request.filter,
    filterMode: fromProtoEnum<LineageFilterMode>(ProtoFilterMode, 'LINEAGE_FILTER_MODE_', request.filterMode) ?? 'COLLAPSE',
    maxChildrenPerNode: request.maxChildrenPerNode,
    maxParentsPerNode: request.maxParentsPerNode,
  };
}

export function lineageViewFromProto(value: number): LineageView | 'INVALID' {
  return fromProtoEnum<LineageView>(ProtoView, 'LINEAGE_VIEW_', value) ?? 'BASIC';
}

/** The answer as one message (what lineageResponseParts gives, joined). */
export function toLineageResponse(lineage: Lineage<JobView>, view: LineageCommand['view']): GetLineageResponse {
  const parts = [...lineageResponseParts(lineage, view, Infinity)];
  return { ...parts.at(-1)!, root: parts[0]!.root, nodes: parts.flatMap((part) => part.nodes), edges: parts.flatMap((part) => part.edges) };
}

/** Nodes or edges per part of an answer: a part maps and encodes in a few milliseconds (docs/decisions.md, "Large lineage answers"). */
export const LINEAGE_PART_SIZE = 2000;

/**
 * The answer in parts whose encodings, one after the other, are the whole
 * answer's bytes (encodeInParts): the root, the nodes and the edges a part
 * size at a time (fewer nodes in the full view, whose nodes carry records),
 * then the other fields. Each part is mapped only when it is
 * asked for.
 */
export function* lineageResponseParts(
  lineage: Lineage<JobView>,
  view: LineageCommand['view'],
  partSize = view === 'FULL' ? RECORDS_PART_SIZE : LINEAGE_PART_SIZE,
): Generator<GetLineageResponse> {
  const empty = GetLineageResponse.fromPartial({});
  const compact = view === 'COMPACT';
  yield { ...empty, root: toLineageNode(rootNode(lineage), view) };
  if (!compact) {
    for (let i = 0; i < lineage.nodes.length; i += partSize) {
      yield { ...empty, nodes: lineage.nodes.slice(i, i + partSize).map((node) => toLineageNode(node, view)) };
    }
    yield* edgeParts(lineage.edgeIndexes, shownIds(lineage), partSize, (edges) => ({ ...empty, edges }));
  }
  yield lineageSummaryPart(lineage, compact ? toCompactLineage(lineage) : undefined);
}

/**
 * The FULL view's answer in the parts lineageResponseParts gives, each
 * part's nodes made and given their records just before it is mapped
 * (LineageReadingRecords): no more than a part's nodes and records are held
 * at once. A node that comes back restricted is shown under its
 * placeholder in the edges too, and counted as hidden.
 */
export async function* lineageResponsePartsReadingRecords(answer: LineageReadingRecords<JobView>): AsyncGenerator<GetLineageResponse> {
  const empty = GetLineageResponse.fromPartial({});
  yield { ...empty, root: toLineageNode(rootNode(answer.lineage), 'FULL') };
  const shown = yield* partsReadingRecords(answer, RECORDS_PART_SIZE, (nodes) => ({ ...empty, nodes: nodes.map((node) => toLineageNode(node, 'FULL')) }));
  yield* edgeParts(answer.lineage.edgeIndexes, shown.idAt, LINEAGE_PART_SIZE, (edges) => ({ ...empty, edges }));
  yield lineageSummaryPart({ ...answer.lineage, hiddenNodeCount: shown.hiddenNodeCount });
}

/**
 * Yields part(nodes) for each partSize nodes of the answer's lineage, read
 * with their records; returns how the answer shows its jobs after them:
 * each job's id by index in [root, ...nodes] (the placeholder of a node
 * that came back restricted in place of its id), and how many are hidden.
 */
async function* partsReadingRecords<T>(
  { lineage, readRecords }: LineageReadingRecords<JobView>,
  partSize: number,
  part: (nodes: Array<DomainLineageNode<JobView>>) => T,
): AsyncGenerator<T, { idAt: (index: number) => string; hiddenNodeCount: number }> {
  const { root, nodes } = lineage;
  const placeholderSinceWalk = new Map<number, string>();
  for (let from = 0; from < nodes.length; from += partSize) {
    const read = await readRecords(from, from + partSize);
    for (const k of read.restrictedSinceWalk) placeholderSinceWalk.set(from + k, read.nodes[k]!.row.jobId);
    yield part(read.nodes);
  }
  const idAt = (index: number) => (index === 0 ? root.jobId : (placeholderSinceWalk.get(index - 1) ?? nodes.shownId(index - 1)));
  return { idAt, hiddenNodeCount: lineage.hiddenNodeCount + placeholderSinceWalk.size };
}

/** The lineage's edges, partSize a part, each end named by idAt (its index in [root, ...nodes]). */
function* edgeParts<T>(edgeIndexes: ArrayLike<number>, idAt: (index: number) => string, partSize: number, part: (edges: LineageEdge[]) => T): Generator<T> {
  const edgeCount = edgeIndexes.length / 2;
  for (let k = 0; k < edgeCount; k += partSize) yield part(edgesNamed(edgeIndexes, idAt, k, k + partSize));
}

/** The last part of a lineage's answer: the fields after the root, the nodes and the edges (the compact view's lineage among them). */
function lineageSummaryPart(lineage: Pick<Lineage, 'ancestorDepth' | 'descendantDepth' | 'truncation' | 'hiddenNodeCount'>, compact?: CompactLineage): GetLineageResponse {
  return {
    ...GetLineageResponse.fromPartial({}),
    ancestorDepth: lineage.ancestorDepth,
    descendantDepth: lineage.descendantDepth,
    truncated: lineage.truncation.length > 0,
    truncationReasons: toTruncationReasons(lineage),
    hiddenNodeCount: lineage.hiddenNodeCount,
    compact,
  };
}

/** The root as a node of the answer, with what the caps left out of it. */
export function rootNode(lineage: Pick<Lineage<JobView>, 'root' | 'rootFanOut'>): DomainLineageNode<JobView> {
  return { row: lineage.root, depth: 0, relation: 'ROOT', ...(lineage.rootFanOut ? { fanOut: lineage.rootFanOut } : {}) };
}

/**
 * Whole records per part of an answer (the full view, a native export): a
 * record maps and encodes in tens of microseconds, several times that on the
 * loaded 2-core machine, where a part of 500 took up to about 50 ms.
 */
export const RECORDS_PART_SIZE = 250;

/**
 * The native export in parts whose encodings, one after the other, are the
 * whole answer's bytes (encodeInParts): its jobs (the root, then the nodes,
 * whole records or placeholders) RECORDS_PART_SIZE at a time, its edges
 * LINEAGE_PART_SIZE at a time, then the summary. Each part is mapped only
 * when it is asked for.
 */
export function* nativeExportParts(lineage: Lineage<JobView>, summary: Partial<ExportProvenanceGraphResponse>): Generator<ExportProvenanceGraphResponse> {
  const empty = ExportProvenanceGraphResponse.fromPartial({});
  // Job 0 is the root, job i the node nodes[i - 1].
  const jobCount = lineage.nodes.length + 1;
  const job = (i: number): Job => {
    if (i === 0) return toJobMessage(lineage.root.record!);
    const node = lineage.nodes[i - 1]!;
    return node.restricted ? restrictedJob(node.row.jobId) : toJobMessage(node.row.record!);
  };
  for (let from = 0; from < jobCount; from += RECORDS_PART_SIZE) {
    yield { ...empty, jobs: Array.from({ length: Math.min(RECORDS_PART_SIZE, jobCount - from) }, (_, k) => job(from + k)) };
  }
  yield* edgeParts(lineage.edgeIndexes, shownIds(lineage), LINEAGE_PART_SIZE, (edges) => ({ ...empty, edges }));
  yield { ...empty, ...summary };
}

/** The native export in the parts nativeExportParts gives, its nodes' records read a part at a time (as lineageResponsePartsReadingRecords reads them). */
export async function* nativeExportPartsReadingRecords(
  answer: LineageReadingRecords<JobView>,
  summary: Partial<ExportProvenanceGraphResponse>,
): AsyncGenerator<ExportProvenanceGraphResponse> {
  const empty = ExportProvenanceGraphResponse.fromPartial({});
  yield { ...empty, jobs: [toJobMessage(answer.lineage.root.record!)] };
  const jobOf = (node: DomainLineageNode<JobView>) => (node.restricted ? restrictedJob(node.row.jobId) : toJobMessage(node.row.record!));
  const shown = yield* partsReadingRecords(answer, RECORDS_PART_SIZE, (nodes) => ({ ...empty, jobs: nodes.map(jobOf) }));
  yield* edgeParts(answer.lineage.edgeIndexes, shown.idAt, LINEAGE_PART_SIZE, (edges) => ({ ...empty, edges }));
  yield { ...empty, ...summary, hiddenNodeCount: shown.hiddenNodeCount };
}

/** What the fan-out caps left out, per job (the root first), in steps (in-steps.ts) over the nodes. */
export function* fanOutTruncations(lineage: Lineage<JobView>): Generator<void, FanOutTruncation[]> {
  const truncations: FanOutTruncation[] = [];
  const add = (node: DomainLineageNode<JobView>) => {
    if (node.fanOut) truncations.push({ jobId: node.row.jobId, omittedChildCount: node.fanOut.omittedChildren, omittedParentCount: node.fanOut.omittedParents });
  };
  add(rootNode(lineage));
  yield* eachInSteps(lineage.nodes.length, (i) => add(lineage.nodes[i]!));
  return truncations;
}

/**
 * The answer of CheckReproducibility in parts whose encodings, one after the
 * other, are the whole answer's bytes (encodeInParts): the issues as the
 * check reports them (ReproducibilityReport.issueParts), LINEAGE_PART_SIZE
 * at most a part. `reproducible` is known at the end and written there: it
 * is only written when no issue came, and then nothing stands between
 * job_id and checked_ancestor_count, where one encoding of the whole puts it.
 */
export async function* reproducibilityResponseParts(report: ReproducibilityReport): AsyncGenerator<CheckReproducibilityResponse> {
  const empty = CheckReproducibilityResponse.fromPartial({});
  yield { ...empty, jobId: report.jobId };
  let issueCount = 0;
  for await (const issues of report.issueParts) {
    issueCount += issues.length;
    for (let i = 0; i < issues.length; i += LINEAGE_PART_SIZE) {
      yield {
        ...empty,
        issues: issues.slice(i, i + LINEAGE_PART_SIZE).map((issue) => ({
          reason: ReproducibilityIssueReason[`REPRODUCIBILITY_ISSUE_REASON_${issue.reason}`],
          jobId: issue.jobId,
          message: issue.message,
        })),
      };
    }
  }
  yield { ...empty, reproducible: issueCount === 0, checkedAncestorCount: report.checkedAncestorCount };
}

/** The COMPACT view: index 0 the root, index i the node nodes[i - 1]; the edges are the domain's index pairs as they are. */
function toCompactLineage(lineage: Lineage<JobView>): CompactLineage {
  const count = lineage.nodes.length + 1;
  const jobIds: string[] = new Array(count);
  const depths: number[] = new Array(count);
  const relations: LineageRelation[] = new Array(count);
  const restrictedIndexes: number[] = [];
  const fanOutTruncatedIndexes: number[] = [];
  const fanOutOmittedCounts: number[] = [];
  const addFanOut = (index: number, node: Pick<DomainLineageNode, 'fanOut'>) => {
    if (!node.fanOut) return;
    fanOutTruncatedIndexes.push(index);
    fanOutOmittedCounts.push(node.fanOut.omittedChildren, node.fanOut.omittedParents);
  };
  addFanOut(0, rootNode(lineage));
  const relationOf = { ROOT: LineageRelation.LINEAGE_RELATION_ROOT, ANCESTOR: LineageRelation.LINEAGE_RELATION_ANCESTOR, DESCENDANT: LineageRelation.LINEAGE_RELATION_DESCENDANT };
  jobIds[0] = lineage.root.jobId;
  depths[0] = 0;
  relations[0] = LineageRelation.LINEAGE_RELATION_ROOT;
  lineage.nodes.forEach((node, i) => {
    jobIds[i + 1] = node.row.jobId;
    depths[i + 1] = node.depth;
    relations[i + 1] = relationOf[node.relation];
    if (node.restricted) restrictedIndexes.push(i + 1);
    addFanOut(i + 1, node);
  });
  return { jobIds, depths, relations, restrictedIndexes, edgeIndexes: lineage.edgeIndexes, fanOutTruncatedIndexes, fanOutOmittedCounts };
}

export function toTruncationReasons(lineage: Pick<Lineage, 'truncation'>): TruncationReason[] {
  return lineage.truncation.map((reason) => toProtoEnum(TruncationReason, 'TRUNCATION_REASON_', reason));
}

export function toLineageNode(node: DomainLineageNode<JobView>, view: LineageCommand['view']): LineageNode {
  const { row } = node;
  const omittedChildCount = node.fanOut?.omittedChildren ?? 0;
  const omittedParentCount = node.fanOut?.omittedParents ?? 0;
  if (node.restricted) {
    return {
      ...LineageNode.fromPartial({}),
      jobId: row.jobId,
      depth: node.depth,
      relation: toProtoEnum(LineageRelation, 'LINEAGE_RELATION_', node.relation),
      restricted: true,
      omittedChildCount,
      omittedParentCount,
    };
  }
  const summary = view !== 'IDS' && view !== 'COMPACT';
  return {
    jobId: row.jobId,
    depth: node.depth,
    relation: toProtoEnum(LineageRelation, 'LINEAGE_RELATION_', node.relation),
    type: summary ? (row.type ?? '') : '',
    status: summary && row.status ? toProtoEnum(ProtoJobStatus, 'JOB_STATUS_', row.status) : ProtoJobStatus.JOB_STATUS_UNSPECIFIED,
    cacheState: summary && row.cacheState ? toProtoEnum(CacheState, 'CACHE_STATE_', row.cacheState) : CacheState.CACHE_STATE_UNSPECIFIED,
    restricted: false,
    job: view === 'FULL' && row.record ? toJobMessage(row.record) : undefined,
    omittedChildCount,
    omittedParentCount,
  };
}

export function toWatchEventsCommand(request: WatchEventsRequest): WatchEventsCommand {
  const startPosition = fromProtoEnum<'NOW' | 'OLDEST'>(StartPosition, 'START_POSITION_', request.startPosition);
  return {
    jobIds: request.jobIds,
    ...(request.lineageOf ? { lineageOf: request.lineageOf } : {}),
    eventTypes: request.eventTypes,
    labels: request.labels,
    ...(startPosition ? { startPosition } : {}),
    ...(request.afterCursor ? { afterCursor: request.afterCursor } : {}),
  };
}

export function toEventMessage(event: EventView): ProvenanceEvent {
  return {
    cursor: event.cursor,
    type: event.type,
    jobId: event.jobId,
    jobType: event.jobType,
    status: toProtoEnum(ProtoJobStatus, 'JOB_STATUS_', event.status),
    definitionHash: event.definitionHash,
    inputHash: event.inputHash,
    outputHash: event.outputHash ?? '',
    tenant: event.tenant,
    labels: event.labels,
    time: event.time,
    parentJobIds: event.parentIds,
    // An entry an earlier version appended carries the ids instead of the count.
    affectedCount: event.affectedCount ?? event.invalidatedJobIds?.length ?? 0,
    rerunOfJobId: event.rerunOfJobId ?? '',
    cachedFromJobId: event.cachedFromJobId ?? '',
    error: event.error && { reason: event.error.reason, message: event.error.message, dependencyJobId: event.error.dependencyJobId ?? '' },
  };
}
