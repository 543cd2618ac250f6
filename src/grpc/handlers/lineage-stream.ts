import { Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import type { ProvenanceServiceServer, StreamLineageRequest, StreamLineageResponse } from '@provenance/client/gen/provenance/v1/provenance_service';
import { StreamLineageResponse as ResponseMessage } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { LineageStreamMessage } from '../../service/lineage-queries.js';
import type { CallEdge } from '../call.js';
import { directionsFromProto, lineageShapingFromProto, rootNode, toLineageNode, toProtoEnum } from '../mapping.js';
import { streamEndSignal } from '../interceptors/stream-lifetime.js';
import { rootOnly } from './audited-jobs.js';
import { TruncationReason } from '@provenance/client/gen/provenance/v1/lineage';

/** The streamed lineage: StreamLineage. */
export function lineageStreamHandlers(edge: CallEdge): Pick<ProvenanceServiceServer, 'streamLineage'> {
  return { streamLineage: (call) => streamLineage(call, edge) };
}

/**
 * StreamLineage: reads the root (and audits) first, then sends the headers
 * and the messages one at a time, each walked and made only when the
 * previous one has gone to HTTP/2 without filling the call's buffer, else
 * after 'drain': a slow client holds the walk where it is, with one
 * message's worth of encoding. The stream stops as soon as the call ends
 * (cancelled, deadline, client gone), and so does the walk.
 */
function streamLineage(call: ServerWritableStream<StreamLineageRequest, StreamLineageResponse>, edge: CallEdge): void {
  const callEnded = streamEndSignal(call.metadata);
  if (callEnded.aborted) return;
  let resumeWriting: (() => void) | undefined;
  const resume = () => resumeWriting?.();
  const ended = () => callEnded.aborted || call.cancelled || call.destroyed;
  callEnded.addEventListener('abort', resume);
  call.on('drain', resume);
  call.once('close', resume);
  const cleanUp = () => {
    callEnded.removeEventListener('abort', resume);
    call.off('drain', resume);
    call.off('close', resume);
  };
  const log = edge.logOf(call);
  edge
    .answer('streamLineage', call, {
      run: (request: StreamLineageRequest, principal) =>
        edge.deps.service.streamLineage(principal, {
          jobId: request.jobId,
          directions: directionsFromProto(request.direction),
          maxDepth: request.maxDepth,
          resumeToken: request.resumeToken,
          maxMessageNodes: request.maxMessageNodes,
          ...lineageShapingFromProto(request),
          asOf: request.asOf,
        }),
      audited: rootOnly,
    })
    .then(
      async (messages) => {
        if (ended()) return;
        call.sendMetadata(new Metadata());
        try {
          for await (const message of messages) {
            if (ended()) return;
            if (call.write(toStreamLineageResponse(message))) continue;
            await new Promise<void>((resolve) => {
              resumeWriting = resolve;
              if (ended()) resolve();
            });
            resumeWriting = undefined;
          }
          if (!ended()) call.end();
        } catch (error) {
          if (!ended()) call.emit('error', edge.failureOf('streamLineage', error, log));
        }
      },
      (failure) => {
        if (!ended()) call.emit('error', failure);
      },
    )
    .finally(cleanUp);
}

function toStreamLineageResponse(message: LineageStreamMessage): StreamLineageResponse {
  const last = message.truncation !== undefined;
  return {
    ...ResponseMessage.fromPartial({}),
    root: message.root ? toLineageNode(rootNode({ root: message.root, ...(message.rootFanOut ? { rootFanOut: message.rootFanOut } : {}) }), 'IDS') : undefined,
    nodes: message.nodes.map((node) => toLineageNode(node, 'IDS')),
    edges: message.edges,
    resumeToken: message.resumeToken,
    truncated: last && message.truncation!.length > 0,
    truncationReasons: (message.truncation ?? []).map((reason) => toProtoEnum(TruncationReason, 'TRUNCATION_REASON_', reason)),
    last,
  };
}
