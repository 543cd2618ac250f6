import type { ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import { Job } from '@provenance/client/gen/provenance/v1/job';
import { CallEdge } from '../call.js';
import { encodeWhole } from '../encoded-messages.js';
import { OK_STATUS, toRpcStatus } from '../errors.js';
import { toJobMessage, toRecordJobCommand } from '../mapping.js';
import { ids, jobIdsOf, recordedWithParents, tenantOf, tenantsOf } from './audited-jobs.js';

/** Recording and reading jobs: RecordJob, BatchRecordJobs, GetJob, ListJobs. */
export function jobHandlers(edge: CallEdge): Pick<ProvenanceServiceServer, 'recordJob' | 'batchRecordJobs' | 'getJob' | 'listJobs'> {
  const { service } = edge.deps;
  return {
    recordJob: edge.unary('recordJob', {
      run: async (request, principal) => toJobMessage(await service.recordJob(principal, toRecordJobCommand(request))),
      audited: (request, job) => ids([job?.jobId ?? request.jobId].concat(request.parentJobIds)),
      shownTenants: tenantOf,
    }),

    batchRecordJobs: edge.unary('batchRecordJobs', {
      run: async (request, principal, log) => {
        const outcomes = await service.batchRecordJobs(principal, request.requests.map(toRecordJobCommand));
        return {
          results: outcomes.map((outcome) =>
            outcome.ok
              ? { status: OK_STATUS, job: toJobMessage(outcome.job) }
              : { status: toRpcStatus(outcome.error, CallEdge.pathOf('batchRecordJobs'), log), job: undefined },
          ),
        };
      },
      audited: (request, response) => (response ? recordedWithParents(request.requests, response.results) : ids(request.requests.map((r) => r.jobId))),
      shownTenants: (response) => tenantsOf(response.results.map((r) => r.job)),
    }),

    // Encoded here, in its frame: grpc-js then sends it without a copy (encodeWhole).
    getJob: edge.unary('getJob', {
      run: async (request, principal) => {
        const job = toJobMessage(await service.getJob(principal, request.jobId || undefined, request.asOf));
        return encodeWhole(Job, job, tenantOf(job));
      },
      audited: (request) => ids([request.jobId]),
      shownTenants: (response) => response.shownTenants,
    }),

    listJobs: edge.unary('listJobs', {
      run: async (request, principal) => {
        const page = await service.listJobs(principal, {
          pageSize: request.pageSize,
          pageToken: request.pageToken || undefined,
          filter: request.filter || undefined,
        });
        return { jobs: page.jobs.map(toJobMessage), nextPageToken: page.nextPageToken };
      },
      audited: (_request, response) => jobIdsOf(response?.jobs ?? []),
      shownTenants: (response) => tenantsOf(response.jobs),
    }),
  };
}
