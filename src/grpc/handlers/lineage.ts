import { invalidArgument } from '../../domain/errors.js';
import { WireType } from '@bufbuild/protobuf/wire';
import { exportReadsRecords, renderGraphInSteps, type RenderedDocument, type RenderSteps } from '../../domain/graph-export/index.js';
import type { JobView } from '../../domain/job-view.js';
import type { LineageNode, LineageReadingRecords } from '../../domain/lineage.js';
import { inTurns, TurnClock } from '../../service/next-turn.js';
import { CheckReproducibilityResponse, ExportProvenanceGraphResponse, type ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { CallEdge } from '../call.js';
import { encodeLineageAnswer } from '../lineage-answer.js';
import { EncodedMessage, encodeInParts, frameInTurns } from '../encoded-messages.js';
import {
  directionsFromProto,
  graphFormatFromProto,
  lineageViewFromProto,
  restrictedJob,
  toJobMessage,
  lineageShapingFromProto,
  fanOutTruncations,
  nativeExportParts,
  nativeExportPartsReadingRecords,
  reproducibilityResponseParts,
  toProtoGraphFormat,
  toTruncationReasons,
} from '../mapping.js';
import { ids, rootOnly } from './audited-jobs.js';

/** Walks of the graph: GetLineage, ListDependents, ExportProvenanceGraph, CheckReproducibility. */
export function lineageHandlers(
  edge: CallEdge,
): Pick<ProvenanceServiceServer, 'getLineage' | 'listDependents' | 'exportProvenanceGraph' | 'checkReproducibility'> {
  const { service } = edge.deps;
  return {
    getLineage: edge.unary('getLineage', {
      run: async (request, principal) => {
        const view = lineageViewFromProto(request.view);
        const lineage = await service.getLineage(principal, {
          jobId: request.jobId,
          directions: directionsFromProto(request.direction),
          maxDepth: request.maxDepth,
          maxNodes: request.maxNodes,
          view,
          ...lineageShapingFromProto(request),
          asOf: request.asOf,
        });
        return encodeLineageAnswer(lineage, view);
      },
      audited: rootOnly,
    }),

    listDependents: edge.unary('listDependents', {
      run: async (request, principal) => {
        const page = await service.listDependents(principal, {
          jobId: request.jobId,
          transitive: request.transitive,
          pageSize: request.pageSize,
          pageToken: request.pageToken || undefined,
          asOf: request.asOf,
        });
        return {
          dependents: page.dependents.map((d) => ({ job: 'job' in d ? toJobMessage(d.job) : restrictedJob(d.restrictedJobId), depth: d.depth })),
          nextPageToken: page.nextPageToken,
          truncated: page.truncated,
          hiddenNodeCount: page.hiddenNodeCount,
        };
      },
      audited: rootOnly,
    }),

    exportProvenanceGraph: edge.unary('exportProvenanceGraph', {
      run: async (request, principal) => {
        const format = graphFormatFromProto(request.format);
        if (format === 'INVALID') throw invalidArgument([{ field: 'format', description: 'unknown format' }]);
        const answer = await service.exportGraph(principal, {
          jobId: request.jobId,
          directions: directionsFromProto(request.direction),
          maxDepth: request.maxDepth,
          ...lineageShapingFromProto(request),
          asOf: request.asOf,
          wholeRecords: exportReadsRecords(format),
        });
        const reading = 'readRecords' in answer ? answer : undefined;
        const lineage = 'readRecords' in answer ? answer.lineage : answer;
        const summary = {
          truncated: lineage.truncation.length > 0,
          truncationReasons: toTruncationReasons(lineage),
          hiddenNodeCount: lineage.hiddenNodeCount,
          format: toProtoGraphFormat(format),
          // A lineage read in parts is one the store built, without fan-out caps.
          fanOutTruncations: 'readRecords' in answer ? [] : await inTurns(fanOutTruncations(answer)),
        };
        // A large lineage's document is rendered and encoded, and its native answer mapped and encoded, in steps between which other calls run.
        if (format !== 'NATIVE') {
          const { document, restrictedSinceWalk } = await renderInTurns(renderGraphInSteps(format, lineage, reading !== undefined), reading);
          return encodeDocumentAnswer({ ...summary, hiddenNodeCount: summary.hiddenNodeCount + restrictedSinceWalk }, document);
        }
        // The native format's first job is the root, which the caller may read.
        const parts = 'readRecords' in answer ? nativeExportPartsReadingRecords(answer, summary) : nativeExportParts(answer, summary);
        return encodeInParts(ExportProvenanceGraphResponse, parts, new Map([[lineage.root.jobId, lineage.root.tenant]]));
      },
      audited: rootOnly,
      // Every answer is encoded here: the native format's names its root's tenant, a document's none.
      shownTenants: (response) => response.shownTenants,
    }),

    checkReproducibility: edge.unary('checkReproducibility', {
      run: async (request, principal) => {
        const report = await service.checkReproducibility(principal, request.jobId);
        // The ancestry is read and checked a part at a time as the answer is encoded (an issue per ancestor, at worst), with turns of the event loop between parts.
        return encodeInParts(CheckReproducibilityResponse, reproducibilityResponseParts(report));
      },
      audited: (request) => ids([request.jobId]),
    }),
  };
}

/**
 * Runs a renderer to its end as inTurns does, with a turn of the event loop
 * once TURN_BUDGET_MS is spent, reading the records it asks for (RenderPause)
 * from the answer that reads them in parts; with how many of those nodes
 * came back restricted (their grants changed since the walk), which the
 * answer counts as hidden.
 */
export async function renderInTurns(steps: RenderSteps<RenderedDocument>, reading: LineageReadingRecords<JobView> | undefined): Promise<{ document: RenderedDocument; restrictedSinceWalk: number }> {
  const clock = new TurnClock();
  let restrictedLater = 0;
  let read: ReadonlyArray<LineageNode<JobView>> | undefined;
  for (;;) {
    const step = steps.next(read);
    read = undefined;
    if (step.done) return { document: step.value, restrictedSinceWalk: restrictedLater };
    if (step.value) {
      if (!reading) throw new Error('a renderer asked for records of a lineage that holds them');
      // The nodes asked for are the answer's own (renderGraphInSteps was given its lineage).
      const { from, to } = step.value.readRecords;
      const records = await reading.readRecords(from, to);
      read = records.nodes;
      restrictedLater += records.restrictedSinceWalk.length;
    }
    if (clock.due()) await clock.turn();
  }
}

/** ExportProvenanceGraphResponse.content's field number (provenance_service.proto). */
const CONTENT_FIELD = 7;

/**
 * A document format's answer, encoded as one encode of the whole answer
 * would, but with the document's text (UTF-8 pieces) written a MiB at a
 * time and a turn of the event loop between (frameInTurns): a whole
 * ancestry's PROV-JSON is tens of megabytes, one string field that grpc-js
 * would encode in one block of about a second (docs/decisions.md, "Large
 * lineage answers").
 */
export async function encodeDocumentAnswer(summary: Partial<ExportProvenanceGraphResponse>, document: RenderedDocument): Promise<EncodedMessage> {
  // The fields in field order, as a one-step encoding writes them: those before content, content, then those after it.
  const { fanOutTruncations, ...beforeContent } = summary;
  const content = document.pieces;
  let contentBytes = 0;
  for (const piece of content) contentBytes += piece.byteLength;
  const head = ExportProvenanceGraphResponse.encode(ExportProvenanceGraphResponse.fromPartial(beforeContent));
  if (contentBytes > 0) head.tag(CONTENT_FIELD, WireType.LengthDelimited).uint32(contentBytes);
  const tail = ExportProvenanceGraphResponse.encode(ExportProvenanceGraphResponse.fromPartial({ contentType: document.contentType, ...(fanOutTruncations ? { fanOutTruncations } : {}) }));
  return EncodedMessage.framed(await frameInTurns([head.finish(), ...(contentBytes > 0 ? content : []), tail.finish()]));
}
