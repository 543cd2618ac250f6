import type { ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import { AuditEvent } from '@provenance/client/gen/provenance/v1/audit';
import type { StoredAuditEntry } from '../../domain/ports/audit-log.js';
import type { CallEdge } from '../call.js';
import { toAuditEventMessage } from '../mapping.js';
import { pageBytes } from '../page-bytes.js';

/** Reading the audit trail: ListAuditEvents (itself audited, naming no job). */
export function auditHandlers(edge: CallEdge): Pick<ProvenanceServiceServer, 'listAuditEvents'> {
  const { service, maxMessageBytes } = edge.deps;
  const auditPageBytes = pageBytes(maxMessageBytes, (entry: StoredAuditEntry) => AuditEvent.encode(toAuditEventMessage(entry)).finish().byteLength);
  return {
    listAuditEvents: edge.unary('listAuditEvents', {
      run: async (request, principal) => {
        const page = await service.listAuditEvents(principal, {
          pageSize: request.pageSize,
          ...(request.pageToken ? { pageToken: request.pageToken } : {}),
          ...(request.filter ? { filter: request.filter } : {}),
        }, auditPageBytes);
        return { auditEvents: page.entries.map(toAuditEventMessage), nextPageToken: page.nextPageToken };
      },
      audited: () => [],
    }),
  };
}
