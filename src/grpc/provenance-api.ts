import type { Server } from '@grpc/grpc-js';
import { ProvenanceServiceService, type ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import { CallEdge, type CallDependencies } from './call.js';
import { acceptingEncodedMessages } from './encoded-messages.js';
import { auditHandlers } from './handlers/audit.js';
import { comparisonHandlers } from './handlers/comparison.js';
import { eventHandlers } from './handlers/events.js';
import { executionHandlers } from './handlers/execution.js';
import { jobHandlers } from './handlers/jobs.js';
import { lineageHandlers } from './handlers/lineage.js';
import { lineageStreamHandlers } from './handlers/lineage-stream.js';
import { decodingFailuresAsValues, type DecodingLimits } from './request-decoding.js';

export interface ProvenanceApiDependencies extends CallDependencies {
  /** What a request may hold before it is decoded (request-decoding.ts). */
  decoding: DecodingLimits;
}

/**
 * Serves provenance.v1.ProvenanceService on a grpc-js server, as
 * grpc-health-check and @grpc/reflection add theirs: every handler passes
 * through one CallEdge (call.ts: principal, audit, statuses); the handlers
 * live by resource in handlers/.
 */
export function addToServer(server: Server, deps: ProvenanceApiDependencies): void {
  const edge = new CallEdge(deps);
  const handlers: ProvenanceServiceServer = {
    ...jobHandlers(edge),
    ...lineageHandlers(edge),
    ...comparisonHandlers(edge),
    ...lineageStreamHandlers(edge),
    ...executionHandlers(edge),
    ...eventHandlers(edge, deps.maxMessageBytes),
    ...auditHandlers(edge),
  };
  server.addService(acceptingEncodedMessages(decodingFailuresAsValues(ProvenanceServiceService, deps.decoding)), handlers);
}
