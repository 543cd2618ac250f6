import { invalidArgument } from '../../domain/errors.js';
import { renderGraph } from '../../domain/graph-export/index.js';
import { lineageEdges } from '../../domain/lineage.js';
import { GetLineageResponse, ReproducibilityIssueReason, type ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { CallEdge } from '../call.js';
import { encodeInParts } from '../encoded-messages.js';
import {
  directionsFromProto,
  graphFormatFromProto,
  lineageViewFromProto,
  restrictedJob,
  toJobMessage,
  lineageResponseParts,
  lineageShapingFromProto,
  rootNode,
  toProtoGraphFormat,
  toTruncationReasons,
} from '../mapping.js';
import { ids, rootOnly, tenantsOf } from './audited-jobs.js';

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
        return encodeInParts(GetLineageResponse, lineageResponseParts(lineage, view));
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
        const lineage = await service.exportGraph(principal, {
          jobId: request.jobId,
          directions: directionsFromProto(request.direction),
          maxDepth: request.maxDepth,
          ...lineageShapingFromProto(request),
          asOf: request.asOf,
        });
        const summary = {
          truncated: lineage.truncation.length > 0,
          truncationReasons: toTruncationReasons(lineage),
          hiddenNodeCount: lineage.hiddenNodeCount,
          format: toProtoGraphFormat(format),
          fanOutTruncations: [rootNode(lineage), ...lineage.nodes].flatMap((node) =>
            node.fanOut ? [{ jobId: node.row.jobId, omittedChildCount: node.fanOut.omittedChildren, omittedParentCount: node.fanOut.omittedParents }] : [],
          ),
        };
        if (format !== 'NATIVE') return { ...summary, jobs: [], edges: [], ...renderGraph(format, lineage) };
        return {
          ...summary,
          jobs: [{ row: lineage.root, restricted: false }, ...lineage.nodes].map((node) => (node.restricted ? restrictedJob(node.row.jobId) : toJobMessage(node.row.record!))),
          edges: lineageEdges(lineage),
          content: '',
          contentType: '',
        };
      },
      audited: rootOnly,
      // The native format's first job is the root.
      shownTenants: (response) => tenantsOf(response.jobs.slice(0, 1)),
    }),

    checkReproducibility: edge.unary('checkReproducibility', {
      run: async (request, principal) => {
        const report = await service.checkReproducibility(principal, request.jobId);
        return {
          jobId: report.jobId,
          reproducible: report.issues.length === 0,
          issues: report.issues.map((issue) => ({
            reason: ReproducibilityIssueReason[`REPRODUCIBILITY_ISSUE_REASON_${issue.reason}`],
            jobId: issue.jobId,
            message: issue.message,
          })),
          checkedAncestorCount: report.checkedAncestorCount,
        };
      },
      audited: (request) => ids([request.jobId]),
    }),
  };
}
