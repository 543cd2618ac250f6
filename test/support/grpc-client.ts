import {
  credentials,
  InterceptingCall,
  type ChannelCredentials,
  type ClientReadableStream,
  type Interceptor,
  type Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import type { ProvenanceEvent } from '../../src/gen/provenance/v1/event.js';
import { BadRequest, ErrorInfo, PreconditionFailure, ResourceInfo, RetryInfo } from '../../src/gen/google/rpc/error_details.js';
import { Status } from '../../src/gen/google/rpc/status.js';
import type { Job } from '../../src/gen/provenance/v1/job.js';
import {
  BatchRecordJobsRequest,
  CancelJobRequest,
  CheckReproducibilityRequest,
  ExportProvenanceGraphRequest,
  GetJobRequest,
  GetLineageRequest,
  InvalidateCacheRequest,
  ListAuditEventsRequest,
  ListDependentsRequest,
  ListJobsRequest,
  ProvenanceServiceClient,
  RecordJobRequest,
  RerunJobRequest,
  SubmitJobRequest,
  WatchEventsRequest,
  type BatchRecordJobsResponse,
  type CheckReproducibilityResponse,
  type DeepPartial,
  type ExportProvenanceGraphResponse,
  type GetLineageResponse,
  type InvalidateCacheResponse,
  type ListAuditEventsResponse,
  type ListDependentsResponse,
  type ListJobsResponse,
  type WatchEventsResponse,
} from '../../src/gen/provenance/v1/provenance_service.js';

export interface ConnectOptions {
  /** Sent with every call, e.g. { authorization: 'Bearer …' } or { 'x-api-key': '…' }. */
  headers?: Record<string, string>;
  /** Plaintext when absent. */
  channelCredentials?: ChannelCredentials;
}

/** The generated client with promises: each method takes a partial request, as ts-proto's fromPartial does. */
export function connect(address: string, options: ConnectOptions = {}) {
  const headers: Interceptor = (callOptions, nextCall) =>
    new InterceptingCall(nextCall(callOptions), {
      start: (metadata, listener, next) => {
        for (const [key, value] of Object.entries(options.headers ?? {})) metadata.set(key, value);
        next(metadata, listener);
      },
    });
  const client = new ProvenanceServiceClient(address, options.channelCredentials ?? credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    interceptors: [headers],
  });
  type Unary<Req, Res> = (request: Req, callback: (error: ServiceError | null, response: Res) => void) => unknown;
  const unary =
    <Req, Res>(call: Unary<Req, Res>, type: { fromPartial(object: DeepPartial<Req>): Req }) =>
    (request: DeepPartial<Req>): Promise<Res> =>
      new Promise((resolve, reject) => call.call(client, type.fromPartial(request), (error, response) => (error ? reject(error) : resolve(response))));
  return {
    raw: client,
    recordJob: unary<RecordJobRequest, Job>(client.recordJob, RecordJobRequest),
    batchRecordJobs: unary<BatchRecordJobsRequest, BatchRecordJobsResponse>(client.batchRecordJobs, BatchRecordJobsRequest),
    getJob: unary<GetJobRequest, Job>(client.getJob, GetJobRequest),
    listJobs: unary<ListJobsRequest, ListJobsResponse>(client.listJobs, ListJobsRequest),
    getLineage: unary<GetLineageRequest, GetLineageResponse>(client.getLineage, GetLineageRequest),
    listDependents: unary<ListDependentsRequest, ListDependentsResponse>(client.listDependents, ListDependentsRequest),
    exportProvenanceGraph: unary<ExportProvenanceGraphRequest, ExportProvenanceGraphResponse>(client.exportProvenanceGraph, ExportProvenanceGraphRequest),
    checkReproducibility: unary<CheckReproducibilityRequest, CheckReproducibilityResponse>(client.checkReproducibility, CheckReproducibilityRequest),
    submitJob: unary<SubmitJobRequest, Job>(client.submitJob, SubmitJobRequest),
    rerunJob: unary<RerunJobRequest, Job>(client.rerunJob, RerunJobRequest),
    cancelJob: unary<CancelJobRequest, Job>(client.cancelJob, CancelJobRequest),
    invalidateCache: unary<InvalidateCacheRequest, InvalidateCacheResponse>(client.invalidateCache, InvalidateCacheRequest),
    listAuditEvents: unary<ListAuditEventsRequest, ListAuditEventsResponse>(client.listAuditEvents, ListAuditEventsRequest),
    /** Opens a WatchEvents stream; events arrive in order on the returned stream. */
    watchEvents: (request: DeepPartial<WatchEventsRequest>): ClientReadableStream<WatchEventsResponse> =>
      client.watchEvents(WatchEventsRequest.fromPartial(request)),
    close: () => client.close(),
  };
}

/** Resolves once the server has registered the subscription (it sends the response headers then). */
export function subscribed<T extends ClientReadableStream<WatchEventsResponse>>(stream: T): Promise<T> {
  return new Promise((resolve, reject) => {
    stream.once('metadata', () => resolve(stream));
    stream.once('error', reject);
  });
}

/** Reads a WatchEvents stream until it has count events (or ends, or fails), and returns them with how it ended. */
export function collectEvents(stream: ClientReadableStream<WatchEventsResponse>, count: number, timeoutMs = 20_000): Promise<{ events: ProvenanceEvent[]; error?: ServiceError }> {
  return new Promise((resolve, reject) => {
    const events: ProvenanceEvent[] = [];
    const timer = setTimeout(() => {
      stream.cancel();
      reject(new Error(`got ${events.length} of ${count} events within ${timeoutMs} ms: ${events.map((e) => `${e.type}:${e.jobId}`).join(', ')}`));
    }, timeoutMs);
    const done = (error?: ServiceError) => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      resolve(error ? { events, error } : { events });
    };
    stream.on('data', (response: WatchEventsResponse) => {
      events.push(response.event!);
      if (events.length === count) done();
    });
    stream.on('error', (error: ServiceError) => done(error));
    stream.on('end', () => done());
  });
}

export type Client = ReturnType<typeof connect>;

/** The google.rpc.Status a failed call carried in grpc-status-details-bin, with its details decoded. */
export function statusDetails(error: unknown) {
  const metadata = (error as { metadata?: Metadata }).metadata;
  const [bytes] = metadata?.get('grpc-status-details-bin') ?? [];
  if (!bytes) throw new Error(`the error carries no grpc-status-details-bin: ${String(error)}`);
  return decodeStatus(Status.decode(bytes as Buffer));
}

export function decodeStatus(status: Status) {
  const find = <T>(name: string, type: { decode(bytes: Uint8Array): T }): T | undefined => {
    const any = status.details.find((d) => d.typeUrl === `type.googleapis.com/google.rpc.${name}`);
    return any ? type.decode(any.value) : undefined;
  };
  return {
    code: status.code,
    message: status.message,
    errorInfo: find('ErrorInfo', ErrorInfo),
    badRequest: find('BadRequest', BadRequest),
    preconditionFailure: find('PreconditionFailure', PreconditionFailure),
    resourceInfo: find('ResourceInfo', ResourceInfo),
    retryInfo: find('RetryInfo', RetryInfo),
  };
}

/** Runs a call that must fail and returns its error. */
export async function failure(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('the call succeeded, but it was expected to fail');
}
