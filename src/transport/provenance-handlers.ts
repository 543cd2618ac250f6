import type { handleUnaryCall, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { unimplemented } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import {
  GraphFormat,
  ReproducibilityIssueReason,
  type CheckReproducibilityResponse,
  type ProvenanceServiceServer,
} from '../gen/provenance/v1/provenance_service.js';
import type { ProvenanceService } from '../service/provenance-service.js';
import { OK_STATUS, toRpcStatus, toServiceError } from './errors.js';
import { UndecodableRequest } from './request-decoding.js';
import { streamEvents } from './watch-events.js';
import {
  directionsFromProto,
  lineageViewFromProto,
  toJobMessage,
  toLineageResponse,
  toRecordJobCommand,
  toRerunJobCommand,
  toSubmitJobCommand,
  toTruncationReasons,
} from './mapping.js';

export interface HandlerContext {
  service: ProvenanceService;
  logger: Logger;
  /** Who is calling. */
  principalOf(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): Principal;
}

const SERVICE_NAME = 'provenance.v1.ProvenanceService';

/** grpc-js handlers of ProvenanceService: each one maps the request, calls the service, maps the answer. */
export function createProvenanceHandlers(context: HandlerContext): ProvenanceServiceServer {
  const { service, logger } = context;
  const unary =
    <Req, Res>(method: string, run: (request: Req, principal: Principal) => Promise<Res>): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const { request } = call as { request: Req | UndecodableRequest };
      const answer = request instanceof UndecodableRequest ? Promise.reject(request.toError()) : run(request, context.principalOf(call));
      answer.then(
        (response) => callback(null, response),
        (error: unknown) => callback(toServiceError(error, `/${SERVICE_NAME}/${method}`, logger)),
      );
    };
  const notYet = <Req, Res>(method: string, issue: string): handleUnaryCall<Req, Res> =>
    unary(method, async () => {
      throw unimplemented(method, issue);
    });

  return {
    recordJob: unary('RecordJob', async (request, principal) => toJobMessage(await service.recordJob(principal, toRecordJobCommand(request)))),

    batchRecordJobs: unary('BatchRecordJobs', async (request, principal) => {
      const outcomes = await service.batchRecordJobs(principal, request.requests.map(toRecordJobCommand));
      return {
        results: outcomes.map((outcome) =>
          outcome.ok
            ? { status: OK_STATUS, job: toJobMessage(outcome.job) }
            : { status: toRpcStatus(outcome.error, `/${SERVICE_NAME}/BatchRecordJobs`, logger), job: undefined },
        ),
      };
    }),

    getJob: unary('GetJob', async (request, principal) => toJobMessage(await service.getJob(principal, request.jobId || undefined))),

    listJobs: unary('ListJobs', async (request, principal) => {
      const page = await service.listJobs(principal, {
        pageSize: request.pageSize,
        pageToken: request.pageToken || undefined,
        filter: request.filter || undefined,
      });
      return { jobs: page.jobs.map(toJobMessage), nextPageToken: page.nextPageToken };
    }),

    getLineage: unary('GetLineage', async (request, principal) => {
      const view = lineageViewFromProto(request.view);
      const lineage = await service.getLineage(principal, {
        jobId: request.jobId,
        directions: directionsFromProto(request.direction),
        maxDepth: request.maxDepth,
        maxNodes: request.maxNodes,
        view,
      });
      return toLineageResponse(lineage, view);
    }),

    listDependents: unary('ListDependents', async (request, principal) => {
      const page = await service.listDependents(principal, {
        jobId: request.jobId,
        transitive: request.transitive,
        pageSize: request.pageSize,
        pageToken: request.pageToken || undefined,
      });
      return {
        dependents: page.dependents.map((d) => ({ job: toJobMessage(d.job), depth: d.depth })),
        nextPageToken: page.nextPageToken,
        truncated: page.truncated,
        hiddenNodeCount: 0,
      };
    }),

    exportProvenanceGraph: unary('ExportProvenanceGraph', async (request, principal) => {
      const format = request.format === GraphFormat.GRAPH_FORMAT_UNSPECIFIED ? GraphFormat.GRAPH_FORMAT_NATIVE : request.format;
      if (format !== GraphFormat.GRAPH_FORMAT_NATIVE) {
        throw unimplemented(`ExportProvenanceGraph with format ${GraphFormat[format] ?? format}`, 'issue #8');
      }
      const lineage = await service.exportGraph(principal, {
        jobId: request.jobId,
        directions: directionsFromProto(request.direction),
        maxDepth: request.maxDepth,
      });
      return {
        jobs: [lineage.root, ...lineage.nodes.map((n) => n.row)].map((row) => toJobMessage(row.record!)),
        edges: lineage.edges,
        truncated: lineage.truncation.length > 0,
        truncationReasons: toTruncationReasons(lineage),
        hiddenNodeCount: 0,
        format,
        content: '',
        contentType: '',
      };
    }),

    checkReproducibility: unary('CheckReproducibility', async (request, principal): Promise<CheckReproducibilityResponse> => {
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
    }),

    submitJob: unary('SubmitJob', async (request, principal) => toJobMessage(await service.submitJob(principal, toSubmitJobCommand(request)))),

    rerunJob: unary('RerunJob', async (request, principal) => toJobMessage(await service.rerunJob(principal, toRerunJobCommand(request)))),

    cancelJob: unary('CancelJob', async (request, principal) =>
      toJobMessage(await service.cancelJob(principal, { jobId: request.jobId, ...(request.reason ? { reason: request.reason } : {}) })),
    ),

    invalidateCache: unary('InvalidateCache', async (request, principal) => {
      const invalidation = await service.invalidateCache(principal, { jobId: request.jobId, dryRun: request.dryRun });
      return { affectedJobIds: invalidation.affectedJobIds, affectedCount: invalidation.affectedJobIds.length, dryRun: invalidation.dryRun };
    }),
    watchEvents: (call) => streamEvents(call, context),
    listAuditEvents: notYet('ListAuditEvents', 'issue #5'),
  };
}
