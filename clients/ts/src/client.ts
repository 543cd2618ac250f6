import { credentials, InterceptingCall, Metadata, type ChannelCredentials, type ClientOptions, type ClientUnaryCall, type Interceptor, type ServiceError } from '@grpc/grpc-js';
import type { Job } from './gen/provenance/v1/job.js';
import { LineageView } from './gen/provenance/v1/lineage.js';
import {
  BatchRecordJobsRequest,
  CancelJobRequest,
  CheckReproducibilityRequest,
  CompareJobsRequest,
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
  SetReaderSubjectsRequest,
  StreamLineageRequest,
  type StreamLineageResponse,
  SubmitJobRequest,
  WatchEventsRequest,
  type BatchRecordJobsResponse,
  type CheckReproducibilityResponse,
  type CompareJobsResponse,
  type DeepPartial,
  type ExportProvenanceGraphResponse,
  type GetLineageResponse,
  type InvalidateCacheResponse,
  type ListAuditEventsResponse,
  type ListDependentsResponse,
  type ListJobsResponse,
} from './gen/provenance/v1/provenance_service.js';
import { toClientError } from './errors.js';
import { EventWatch, type WatchOptions } from './events.js';
import { LineageGraph } from './lineage-graph.js';
import { lineageStreamOpener, streamLineageMessages } from './lineage-stream.js';


export interface TlsOptions {
  /** PEM CA certificates to trust; the system's when absent. */
  rootCertificates?: Buffer;
  /** PEM private key of the client certificate (mTLS); give certificateChain with it. */
  privateKey?: Buffer;
  /** PEM client certificate chain (mTLS): under mTLS the server takes the caller from it. */
  certificateChain?: Buffer;
}

export interface ProvenanceClientOptions {
  /** host:port of the server. */
  address: string;
  /** A bearer token (JWT), or a function asked for one at the start of every call, so a long-lived client can renew it. */
  token?: string | (() => string);
  /** An API key, sent as x-api-key. */
  apiKey?: string;
  /** TLS, with a client certificate for mTLS; plaintext when absent. */
  tls?: TlsOptions;
  /** Deadline of each unary call, in milliseconds, unless the call gives its own; none when absent. */
  timeoutMs?: number;
  /** Headers sent with every call, e.g. for a proxy. */
  metadata?: Record<string, string>;
  /**
   * grpc-js channel options (e.g. 'grpc.keepalive_time_ms'); interceptors
   * given here run after the client's own, which add the credentials.
   */
  channelOptions?: Partial<ClientOptions>;
}

/** Per-call options of the unary methods. */
export interface RequestOptions {
  /** Deadline of this call, in milliseconds; overrides the client's timeoutMs (Infinity: none). */
  timeoutMs?: number;
  /** Aborting cancels the call, which then rejects with CANCELLED. */
  signal?: AbortSignal;
}

/** The server's own default PROVENANCE_MAX_MESSAGE_BYTES: a large lineage answer fits; grpc-js would stop at 4 MiB. */
const DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

/**
 * The HTTP/2 window of each stream and of the connection: how much the
 * server may send before this client says it has read it. grpc-js keeps
 * HTTP/2's 64 KiB and, unlike the C and Go libraries, never grows it; a
 * watch then got at most 64 KiB of events (about 230) per round trip, and
 * while writes kept the server's turns long, its events waited seconds for
 * the window (docs/decisions.md, "Events reach subscribers in the turn they
 * are read"). A stream holds at most this much unread.
 */
const DEFAULT_FLOW_CONTROL_WINDOW_BYTES = 1024 * 1024;

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: number },
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/**
 * A client of provenance.v1.ProvenanceService: one promise-returning method
 * per unary RPC, taking a partial request (missing fields get their proto
 * defaults, as ts-proto's fromPartial gives them), and watchEvents as an
 * async iterator that resumes by itself. Failures are ProvenanceClientError.
 * `raw` is the generated grpc-js client on the same channel, with the same
 * credentials, for anything else.
 */
export class ProvenanceClient {
  readonly raw: ProvenanceServiceClient;
  private readonly timeoutMs: number | undefined;

  constructor(options: ProvenanceClientOptions) {
    this.timeoutMs = options.timeoutMs;
    const { interceptors = [], ...channelOptions } = options.channelOptions ?? {};
    this.raw = new ProvenanceServiceClient(options.address, channelCredentials(options.tls), {
      'grpc.max_receive_message_length': DEFAULT_MAX_RECEIVE_BYTES,
      'grpc-node.flow_control_window': DEFAULT_FLOW_CONTROL_WINDOW_BYTES,
      ...channelOptions,
      interceptors: [...credentialHeaders(options), ...interceptors],
    });
  }

  /** Records a job that ran, or runs, elsewhere. */
  recordJob(request: DeepPartial<RecordJobRequest>, options?: RequestOptions): Promise<Job> {
    return this.unary(this.raw.recordJob, RecordJobRequest, request, options);
  }

  batchRecordJobs(request: DeepPartial<BatchRecordJobsRequest>, options?: RequestOptions): Promise<BatchRecordJobsResponse> {
    return this.unary(this.raw.batchRecordJobs, BatchRecordJobsRequest, request, options);
  }

  getJob(request: DeepPartial<GetJobRequest>, options?: RequestOptions): Promise<Job> {
    return this.unary(this.raw.getJob, GetJobRequest, request, options);
  }

  listJobs(request: DeepPartial<ListJobsRequest>, options?: RequestOptions): Promise<ListJobsResponse> {
    return this.unary(this.raw.listJobs, ListJobsRequest, request, options);
  }

  getLineage(request: DeepPartial<GetLineageRequest>, options?: RequestOptions): Promise<GetLineageResponse> {
    return this.unary(this.raw.getLineage, GetLineageRequest, request, options);
  }

  /**
   * GetLineage in the COMPACT view (whatever request.view says), read as
   * the IDS view's answer: the same nodes and edges, made from the packed
   * form only when read. For large lineages: far fewer bytes and less
   * decoding than the IDS view.
   */
  async getLineageGraph(request: DeepPartial<GetLineageRequest>, options?: RequestOptions): Promise<LineageGraph> {
    return new LineageGraph(await this.getLineage({ ...request, view: LineageView.LINEAGE_VIEW_COMPACT }, options));
  }

  listDependents(request: DeepPartial<ListDependentsRequest>, options?: RequestOptions): Promise<ListDependentsResponse> {
    return this.unary(this.raw.listDependents, ListDependentsRequest, request, options);
  }

  exportProvenanceGraph(request: DeepPartial<ExportProvenanceGraphRequest>, options?: RequestOptions): Promise<ExportProvenanceGraphResponse> {
    return this.unary(this.raw.exportProvenanceGraph, ExportProvenanceGraphRequest, request, options);
  }

  checkReproducibility(request: DeepPartial<CheckReproducibilityRequest>, options?: RequestOptions): Promise<CheckReproducibilityResponse> {
    return this.unary(this.raw.checkReproducibility, CheckReproducibilityRequest, request, options);
  }

  /** Why two jobs differ (typically a job and its rerun), and where their lineages diverge. */
  compareJobs(request: DeepPartial<CompareJobsRequest>, options?: RequestOptions): Promise<CompareJobsResponse> {
    return this.unary(this.raw.compareJobs, CompareJobsRequest, request, options);
  }

  /** Runs a job on the server's worker pool, after its parents. */
  submitJob(request: DeepPartial<SubmitJobRequest>, options?: RequestOptions): Promise<Job> {
    return this.unary(this.raw.submitJob, SubmitJobRequest, request, options);
  }

  rerunJob(request: DeepPartial<RerunJobRequest>, options?: RequestOptions): Promise<Job> {
    return this.unary(this.raw.rerunJob, RerunJobRequest, request, options);
  }

  cancelJob(request: DeepPartial<CancelJobRequest>, options?: RequestOptions): Promise<Job> {
    return this.unary(this.raw.cancelJob, CancelJobRequest, request, options);
  }

  /**
   * Sets who beyond its tenant may read a job: its readerSubjects become
   * exactly request.readerSubjects ("tenant/subject" each), and an empty
   * list takes every grant back. Only the job's owner may; with an etag,
   * the call is ABORTED (ETAG_MISMATCH) unless the job still has it.
   */
  setReaderSubjects(request: DeepPartial<SetReaderSubjectsRequest>, options?: RequestOptions): Promise<Job> {
    return this.unary(this.raw.setReaderSubjects, SetReaderSubjectsRequest, request, options);
  }

  invalidateCache(request: DeepPartial<InvalidateCacheRequest>, options?: RequestOptions): Promise<InvalidateCacheResponse> {
    return this.unary(this.raw.invalidateCache, InvalidateCacheRequest, request, options);
  }

  listAuditEvents(request: DeepPartial<ListAuditEventsRequest>, options?: RequestOptions): Promise<ListAuditEventsResponse> {
    return this.unary(this.raw.listAuditEvents, ListAuditEventsRequest, request, options);
  }

  /**
   * Follows provenance events: `for await (const event of client.watchEvents({ jobIds: [id] }))`.
   * The call opens at once; see EventWatch for resumption, and WatchOptions
   * for the deadline, the signal and the resume policy.
   */
  watchEvents(request: DeepPartial<WatchEventsRequest> = {}, options?: WatchOptions): EventWatch {
    const open = (next: WatchEventsRequest, deadline: number) => this.raw.watchEvents(next, new Metadata(), { deadline });
    return new EventWatch(open, WatchEventsRequest.fromPartial(request), options);
  }

  /**
   * A job's lineage, streamed breadth first in messages of at most 1,000
   * nodes: `for await (const message of client.streamLineage({ jobId }))`.
   * Resumes by itself after a lost stream (lineage-stream.ts); options.timeoutMs
   * is the deadline of each call it makes.
   */
  streamLineage(request: DeepPartial<StreamLineageRequest>, options: { timeoutMs?: number } = {}): AsyncGenerator<StreamLineageResponse, void, undefined> {
    const open = lineageStreamOpener((next, metadata, callOptions) => this.raw.streamLineage(next, metadata, callOptions), options.timeoutMs ?? this.timeoutMs);
    return streamLineageMessages(open, StreamLineageRequest.fromPartial(request));
  }

  /** Closes the channel; calls still open are cancelled. */
  close(): void {
    this.raw.close();
  }

  private unary<Req, Res>(
    method: UnaryMethod<Req, Res>,
    type: { fromPartial(object: DeepPartial<Req>): Req },
    request: DeepPartial<Req>,
    options: RequestOptions = {},
  ): Promise<Res> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const { signal } = options;
    return new Promise<Res>((resolve, reject) => {
      const call = method.call(this.raw, type.fromPartial(request), new Metadata(), { deadline }, (error, response) => {
        signal?.removeEventListener('abort', cancel);
        if (error) reject(toClientError(error));
        else resolve(response);
      });
      const cancel = () => call.cancel();
      signal?.addEventListener('abort', cancel, { once: true });
      if (signal?.aborted) cancel();
    });
  }
}

function channelCredentials(tls: TlsOptions | undefined): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(tls.rootCertificates ?? null, tls.privateKey ?? null, tls.certificateChain ?? null);
}

/**
 * The interceptor that adds the credentials and fixed headers to every call,
 * raw ones included.
 * An interceptor rather than grpc-js call credentials, because those are
 * refused on plaintext channels, and a server on loopback may well be one.
 */
function credentialHeaders({ token, apiKey, metadata = {} }: ProvenanceClientOptions): Interceptor[] {
  // None at all when there is nothing to add: an interceptor costs every call of a busy client something.
  if (token === undefined && apiKey === undefined && Object.keys(metadata).length === 0) return [];
  const interceptor: Interceptor = (callOptions, nextCall) =>
    new InterceptingCall(nextCall(callOptions), {
      start: (headers, listener, next) => {
        for (const [key, value] of Object.entries(metadata)) headers.set(key, value);
        if (token !== undefined) headers.set('authorization', `Bearer ${typeof token === 'function' ? token() : token}`);
        if (apiKey !== undefined) headers.set('x-api-key', apiKey);
        next(headers, listener);
      },
    });
  return [interceptor];
}
