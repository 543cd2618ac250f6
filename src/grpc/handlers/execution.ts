import type { ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { CallEdge } from '../call.js';
import { toJobMessage, toRerunJobCommand, toSubmitJobCommand } from '../mapping.js';
import { ids, tenantOf } from './audited-jobs.js';

/** Running jobs: SubmitJob, RerunJob, CancelJob, InvalidateCache. */
export function executionHandlers(edge: CallEdge): Pick<ProvenanceServiceServer, 'submitJob' | 'rerunJob' | 'cancelJob' | 'invalidateCache'> {
  const { service } = edge.deps;
  return {
    submitJob: edge.unary('submitJob', {
      run: async (request, principal) => toJobMessage(await service.submitJob(principal, toSubmitJobCommand(request))),
      audited: (request, job) => ids([job?.jobId ?? request.jobId].concat(request.parentJobIds)),
      shownTenants: tenantOf,
    }),

    rerunJob: edge.unary('rerunJob', {
      run: async (request, principal) => toJobMessage(await service.rerunJob(principal, toRerunJobCommand(request))),
      audited: (request, job) => ids([request.jobId, job?.jobId].concat(request.replaceParents ? request.parentJobIds : [])),
      shownTenants: tenantOf,
    }),

    cancelJob: edge.unary('cancelJob', {
      run: async (request, principal) => toJobMessage(await service.cancelJob(principal, { jobId: request.jobId, ...(request.reason ? { reason: request.reason } : {}) })),
      audited: (request) => ids([request.jobId]),
      shownTenants: tenantOf,
    }),

    invalidateCache: edge.unary('invalidateCache', {
      run: async (request, principal) => {
        const invalidation = await service.invalidateCache(principal, { jobId: request.jobId, dryRun: request.dryRun });
        return {
          affectedJobIds: invalidation.affectedJobIds,
          affectedCount: invalidation.affectedCount,
          dryRun: invalidation.dryRun,
          skippedJobIds: invalidation.skippedJobIds,
          skippedCount: invalidation.skippedCount,
        };
      },
      audited: (request, response) => ids([request.jobId].concat(response?.affectedJobIds ?? [])),
      // Only jobs of the caller's tenant are ever invalidated by it.
      shownTenants: (response, principal) => new Map(response.affectedJobIds.map((id) => [id, principal.tenant])),
    }),
  };
}
