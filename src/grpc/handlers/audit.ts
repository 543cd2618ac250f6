import type { ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { CallEdge } from '../call.js';
import { toAuditEventMessage } from '../mapping.js';

/** Reading the audit trail: ListAuditEvents (itself audited, naming no job). */
export function auditHandlers(edge: CallEdge): Pick<ProvenanceServiceServer, 'listAuditEvents'> {
  const { service } = edge.deps;
  return {
    listAuditEvents: edge.unary('listAuditEvents', {
      run: async (request, principal) => {
        const page = await service.listAuditEvents(principal, {
          pageSize: request.pageSize,
          ...(request.pageToken ? { pageToken: request.pageToken } : {}),
          ...(request.filter ? { filter: request.filter } : {}),
        });
        return { auditEvents: page.entries.map(toAuditEventMessage), nextPageToken: page.nextPageToken };
      },
      audited: () => [],
    }),
  };
}
