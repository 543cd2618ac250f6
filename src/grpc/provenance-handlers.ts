import { status, type handleUnaryCall, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { invalidArgument } from '../domain/errors.js';
import { renderGraph } from '../domain/graph-export/index.js';
import type { Principal } from '../domain/principal.js';
import type { Job } from '@provenance/client/gen/provenance/v1/job';
import {
  ReproducibilityIssueReason,
  type CheckReproducibilityResponse,
  type ProvenanceServiceServer,
} from '@provenance/client/gen/provenance/v1/provenance_service';
import type { ProvenanceService } from '../service/provenance-service.js';
import { OK_STATUS, toRpcStatus, toServiceError } from './errors.js';
import {
  directionsFromProto,
  graphFormatFromProto,
  lineageViewFromProto,
  restrictedJob,
  toAuditEventMessage,
  toJobMessage,
  toLineageResponse,
  toRecordJobCommand,
  toRerunJobCommand,
  toSubmitJobCommand,
  toProtoGraphFormat,
  toTruncationReasons,
} from './mapping.js';
import { UndecodableRequest } from './request-decoding.js';
import { requestLogger } from './request-id-metadata.js';
import { streamEvents } from './watch-events.js';

export interface HandlerContext {
  service: ProvenanceService;
  logger: Logger;
  /** Who is calling (set by the authentication interceptor). */
  principalOf(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): Principal;
}

export const SERVICE_PATH = '/provenance.v1.ProvenanceService';

/**
 * grpc-js handlers of ProvenanceService: each maps the request, calls the
 * service, and maps the answer; then the call goes into the audit trail
 * (who, which jobs, the outcome) before the answer is sent.
 */
export function createProvenanceHandlers(context: HandlerContext): ProvenanceServiceServer {
  const { service, logger } = context;
  /**
   * jobIds names the jobs an answered call read or wrote, for the audit
   * trail; shownTenants gives the tenants of those its answer shows, which
   * the audit then need not look up.
   */
  const unary =
    <Req, Res>(
      method: string,
      run: (request: Req, principal: Principal, log: Logger) => Promise<Res>,
      jobIds: (request: Req, response?: Res) => string[],
      shownTenants: (response: Res, principal: Principal) => ReadonlyMap<string, string> = () => new Map(),
    ): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const path = `${SERVICE_PATH}/${method}`;
      const log = requestLogger(logger, call.metadata);
      const { request } = call as { request: Req | UndecodableRequest };
      const principal = context.principalOf(call);
      const answer = request instanceof UndecodableRequest ? Promise.reject(request.toError()) : run(request, principal, log);
      void answer
        .then(
          (response) => ({ response, failure: undefined }),
          (error: unknown) => ({ response: undefined, failure: toServiceError(error, path, log) }),
        )
        .then(async ({ response, failure }) => {
          const audited = request instanceof UndecodableRequest ? [] : jobIds(request, response);
          try {
            await service.audit(principal, path, audited, failure ? status[failure.code] : 'OK', response === undefined ? undefined : shownTenants(response, principal));
          } catch (auditError) {
            // A call that failed UNAVAILABLE already (its database is down) keeps its own, more precise, reason.
            return callback(failure?.code === status.UNAVAILABLE ? failure : toServiceError(auditError, path, log));
          }
          return failure ? callback(failure) : callback(null, response!);
        });
    };
  // An array, never spread into arguments: a request may name hundreds of thousands of ids, past the stack's limit on arguments.
  const ids = (values: ReadonlyArray<string | undefined>) => values.filter((v): v is string => !!v);
  const jobIdsOf = (jobs: ReadonlyArray<Job | undefined>) => jobs.flatMap((job) => (job && !job.restricted ? [job.jobId] : []));
  const tenantsOf = (jobs: ReadonlyArray<Job | undefined>) => new Map(jobs.flatMap((job) => (job && !job.restricted ? [[job.jobId, job.tenant] as const] : [])));
  const tenantOf = (job: Job) => tenantsOf([job]);
  /** Graph walks name their root only: the answer follows from it, and may run to tens of thousands of jobs (docs/decisions.md, Audit). */
  const rootOnly = <Req extends { jobId: string }>(request: Req) => ids([request.jobId]);

  return {
    recordJob: unary(
      'RecordJob',
      async (request, principal) => toJobMessage(await service.recordJob(principal, toRecordJobCommand(request))),
      (request, job) => ids([job?.jobId ?? request.jobId]),
      tenantOf,
    ),

    batchRecordJobs: unary(
      'BatchRecordJobs',
      async (request, principal, log) => {
        const outcomes = await service.batchRecordJobs(principal, request.requests.map(toRecordJobCommand));
        return {
          results: outcomes.map((outcome) =>
            outcome.ok
              ? { status: OK_STATUS, job: toJobMessage(outcome.job) }
              : { status: toRpcStatus(outcome.error, `${SERVICE_PATH}/BatchRecordJobs`, log), job: undefined },
          ),
        };
      },
      (request, response) => (response ? jobIdsOf(response.results.map((r) => r.job)) : ids(request.requests.map((r) => r.jobId))),
      (response) => tenantsOf(response.results.map((r) => r.job)),
    ),

    getJob: unary(
      'GetJob',
      async (request, principal) => toJobMessage(await service.getJob(principal, request.jobId || undefined)),
      (request) => ids([request.jobId]),
      tenantOf,
    ),

    listJobs: unary(
      'ListJobs',
      async (request, principal) => {
        const page = await service.listJobs(principal, {
          pageSize: request.pageSize,
          pageToken: request.pageToken || undefined,
          filter: request.filter || undefined,
        });
        return { jobs: page.jobs.map(toJobMessage), nextPageToken: page.nextPageToken };
      },
      (_request, response) => jobIdsOf(response?.jobs ?? []),
      (response) => tenantsOf(response.jobs),
    ),

    getLineage: unary(
      'GetLineage',
      async (request, principal) => {
        const view = lineageViewFromProto(request.view);
        const lineage = await service.getLineage(principal, {
          jobId: request.jobId,
          directions: directionsFromProto(request.direction),
          maxDepth: request.maxDepth,
          maxNodes: request.maxNodes,
          view,
        });
        return toLineageResponse(lineage, view);
      },
      rootOnly,
    ),

    listDependents: unary(
      'ListDependents',
      async (request, principal) => {
        const page = await service.listDependents(principal, {
          jobId: request.jobId,
          transitive: request.transitive,
          pageSize: request.pageSize,
          pageToken: request.pageToken || undefined,
        });
        return {
          dependents: page.dependents.map((d) => ({ job: 'job' in d ? toJobMessage(d.job) : restrictedJob(d.restrictedJobId), depth: d.depth })),
          nextPageToken: page.nextPageToken,
          truncated: page.truncated,
          hiddenNodeCount: page.hiddenNodeCount,
        };
      },
      rootOnly,
    ),

    exportProvenanceGraph: unary(
      'ExportProvenanceGraph',
      async (request, principal) => {
        const format = graphFormatFromProto(request.format);
        if (format === 'INVALID') throw invalidArgument([{ field: 'format', description: 'unknown format' }]);
        const lineage = await service.exportGraph(principal, {
          jobId: request.jobId,
          directions: directionsFromProto(request.direction),
          maxDepth: request.maxDepth,
        });
        const summary = {
          truncated: lineage.truncation.length > 0,
          truncationReasons: toTruncationReasons(lineage),
          hiddenNodeCount: lineage.hiddenNodeCount,
          format: toProtoGraphFormat(format),
        };
        if (format !== 'NATIVE') return { ...summary, jobs: [], edges: [], ...renderGraph(format, lineage) };
        return {
          ...summary,
          jobs: [{ row: lineage.root, restricted: false }, ...lineage.nodes].map((node) => (node.restricted ? restrictedJob(node.row.jobId) : toJobMessage(node.row.record!))),
          edges: lineage.edges,
          content: '',
          contentType: '',
        };
      },
      rootOnly,
      // The native format's first job is the root.
      (response) => tenantsOf(response.jobs.slice(0, 1)),
    ),

    checkReproducibility: unary(
      'CheckReproducibility',
      async (request, principal): Promise<CheckReproducibilityResponse> => {
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
      (request) => ids([request.jobId]),
    ),

    submitJob: unary(
      'SubmitJob',
      async (request, principal) => toJobMessage(await service.submitJob(principal, toSubmitJobCommand(request))),
      (request, job) => ids([job?.jobId ?? request.jobId].concat(request.parentJobIds)),
      tenantOf,
    ),

    rerunJob: unary(
      'RerunJob',
      async (request, principal) => toJobMessage(await service.rerunJob(principal, toRerunJobCommand(request))),
      (request, job) => ids([request.jobId, job?.jobId]),
      tenantOf,
    ),

    cancelJob: unary(
      'CancelJob',
      async (request, principal) => toJobMessage(await service.cancelJob(principal, { jobId: request.jobId, ...(request.reason ? { reason: request.reason } : {}) })),
      (request) => ids([request.jobId]),
      tenantOf,
    ),

    invalidateCache: unary(
      'InvalidateCache',
      async (request, principal) => {
        const invalidation = await service.invalidateCache(principal, { jobId: request.jobId, dryRun: request.dryRun });
        return {
          affectedJobIds: invalidation.affectedJobIds,
          affectedCount: invalidation.affectedJobIds.length,
          dryRun: invalidation.dryRun,
          skippedJobIds: invalidation.skippedJobIds,
        };
      },
      (request, response) => ids([request.jobId].concat(response?.affectedJobIds ?? [])),
      // Only jobs of the caller's tenant are ever invalidated by it.
      (response, principal) => new Map(response.affectedJobIds.map((id) => [id, principal.tenant])),
    ),

    watchEvents: (call) => streamEvents(call, context),

    listAuditEvents: unary(
      'ListAuditEvents',
      async (request, principal) => {
        const page = await service.listAuditEvents(principal, {
          pageSize: request.pageSize,
          ...(request.pageToken ? { pageToken: request.pageToken } : {}),
          ...(request.filter ? { filter: request.filter } : {}),
        });
        return { auditEvents: page.entries.map(toAuditEventMessage), nextPageToken: page.nextPageToken };
      },
      () => [],
    ),
  };
}
