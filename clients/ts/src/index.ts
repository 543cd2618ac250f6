// Re-exported so that callers compare codes with the same grpc-js the client uses, without depending on it.
export { status } from '@grpc/grpc-js';
export { ProvenanceClient, type ProvenanceClientOptions, type RequestOptions, type TlsOptions } from './client.js';
export { LineageGraph } from './lineage-graph.js';
export { LINEAGE_STREAM_ATTEMPTS } from './lineage-stream.js';
export { EventWatch, type ResumePolicy, type Resumption, type WatchOptions } from './events.js';
export { durationMs } from './durations.js';
export { decodeStatus, ProvenanceClientError, statusDetails, type StatusDetails } from './errors.js';
export {
  canonicalJson,
  DEFAULT_VOLATILE_KEYS,
  definitionHash,
  inputHash,
  outputHash,
  removeVolatileKeys,
  type JsonObject,
  type JsonValue,
  type ParentOutput,
} from './hashing.js';

// The generated messages and enums most callers need; everything else is under "@provenance/client/gen/…".
export { Duration } from './gen/google/protobuf/duration.js';
export { AuditEvent } from './gen/provenance/v1/audit.js';
export { ProvenanceEvent, StartPosition, startPositionFromJSON, startPositionToJSON } from './gen/provenance/v1/event.js';
export {
  CachePolicy,
  cachePolicyFromJSON,
  cachePolicyToJSON,
  CacheState,
  cacheStateFromJSON,
  cacheStateToJSON,
  Job,
  JobError,
  JobOrigin,
  jobOriginFromJSON,
  jobOriginToJSON,
  JobResult,
  JobStatus,
  jobStatusFromJSON,
  jobStatusToJSON,
  Provider,
} from './gen/provenance/v1/job.js';
export {
  CompactLineage,
  Edge,
  FanOutTruncation,
  LineageDirection,
  lineageDirectionFromJSON,
  lineageDirectionToJSON,
  LineageFilterMode,
  lineageFilterModeFromJSON,
  lineageFilterModeToJSON,
  LineageNode,
  LineageRelation,
  lineageRelationFromJSON,
  lineageRelationToJSON,
  LineageView,
  lineageViewFromJSON,
  lineageViewToJSON,
  TruncationReason,
  truncationReasonFromJSON,
  truncationReasonToJSON,
} from './gen/provenance/v1/lineage.js';
export {
  BatchRecordJobsRequest,
  BatchRecordJobsResponse,
  BatchRecordJobsResult,
  CancelJobRequest,
  CheckReproducibilityRequest,
  CheckReproducibilityResponse,
  Dependent,
  ExportProvenanceGraphRequest,
  ExportProvenanceGraphResponse,
  GetJobRequest,
  GetLineageRequest,
  GetLineageResponse,
  GraphFormat,
  graphFormatFromJSON,
  graphFormatToJSON,
  InvalidateCacheRequest,
  InvalidateCacheResponse,
  ListAuditEventsRequest,
  ListAuditEventsResponse,
  ListDependentsRequest,
  ListDependentsResponse,
  ListJobsRequest,
  ListJobsResponse,
  ProvenanceServiceClient,
  RecordJobRequest,
  ReproducibilityIssue,
  ReproducibilityIssueReason,
  reproducibilityIssueReasonFromJSON,
  reproducibilityIssueReasonToJSON,
  RerunJobRequest,
  SetReaderSubjectsRequest,
  StreamLineageRequest,
  StreamLineageResponse,
  SubmitJobRequest,
  WatchEventsRequest,
  WatchEventsResponse,
  type DeepPartial,
} from './gen/provenance/v1/provenance_service.js';
export { BadRequest, ErrorInfo, PreconditionFailure, ResourceInfo, RetryInfo } from './gen/google/rpc/error_details.js';
export { Status } from './gen/google/rpc/status.js';
