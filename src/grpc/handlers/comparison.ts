import type { Divergence } from '../../domain/comparison.js';
import { JobDifference, type LineageDivergence, type ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { CallEdge } from '../call.js';
import { ids } from './audited-jobs.js';

/** CompareJobs: why two jobs differ. */
export function comparisonHandlers(edge: CallEdge): Pick<ProvenanceServiceServer, 'compareJobs'> {
  const { service } = edge.deps;
  return {
    compareJobs: edge.unary('compareJobs', {
      run: async (request, principal) => {
        const comparison = await service.compareJobs(principal, { leftJobId: request.leftJobId, rightJobId: request.rightJobId });
        return {
          difference: comparison.difference,
          divergences: comparison.divergences.map(toDivergenceMessage),
          omittedDivergenceCount: comparison.omittedDivergenceCount,
          truncated: comparison.truncated,
          comparedAncestorPairCount: comparison.comparedAncestorPairCount,
        };
      },
      audited: (request) => ids([request.leftJobId, request.rightJobId]),
    }),
  };
}

function toDivergenceMessage(divergence: Divergence): LineageDivergence {
  if (!divergence.restricted) return divergence;
  return { depth: divergence.depth, restricted: true, difference: JobDifference.fromPartial({ leftJobId: divergence.leftJobId, rightJobId: divergence.rightJobId }) };
}
