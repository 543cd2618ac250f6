import { Metadata, status, type ClientReadableStream } from '@grpc/grpc-js';
import { StreamLineageRequest, type StreamLineageResponse } from './gen/provenance/v1/provenance_service.js';
import { toClientError } from './errors.js';

/** How many times in a row a lineage stream is resumed without receiving a message before its failure is thrown. */
export const LINEAGE_STREAM_ATTEMPTS = 3;

/**
 * StreamLineage as an async iterator of its messages. A stream that fails
 * UNAVAILABLE is opened again with the resume token of the last message
 * received (a message is handed to the caller only after it arrived whole),
 * so the caller gets every node and edge once; other failures are thrown as
 * ProvenanceClientError. request.resumeToken starts after a message that an
 * earlier iteration processed.
 */
export async function* streamLineageMessages(
  open: (request: StreamLineageRequest) => ClientReadableStream<StreamLineageResponse>,
  request: StreamLineageRequest,
): AsyncGenerator<StreamLineageResponse, void, undefined> {
  let resumeToken = request.resumeToken;
  let failedInARow = 0;
  for (;;) {
    const call = open({ ...request, resumeToken });
    try {
      for await (const message of call as AsyncIterable<StreamLineageResponse>) {
        failedInARow = 0;
        resumeToken = message.resumeToken;
        yield message;
        if (message.last) return;
      }
      return;
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== status.UNAVAILABLE || ++failedInARow >= LINEAGE_STREAM_ATTEMPTS) throw toClientError(error);
    } finally {
      call.cancel();
    }
  }
}

/** Opens one StreamLineage call. */
export function lineageStreamOpener(
  method: (request: StreamLineageRequest, metadata: Metadata, options: { deadline: number }) => ClientReadableStream<StreamLineageResponse>,
  timeoutMs: number | undefined,
): (request: StreamLineageRequest) => ClientReadableStream<StreamLineageResponse> {
  return (request) => method(request, new Metadata(), { deadline: timeoutMs === undefined ? Infinity : Date.now() + timeoutMs });
}


