import type { CachePolicy, JobError, JobStatus, Provider } from './job.js';
import type { JsonObject, JsonValue } from './json.js';
import type { LineageDirection } from './lineage.js';
import type { LineageFilterMode } from './lineage-selection.js';

/**
 * Requests as the service sees them: the transport has turned protobuf
 * defaults into absent values (an empty string is "not given"), and nothing
 * else. Everything here is still to be validated.
 */

export interface RecordJobCommand {
  jobId?: string;
  requestId?: string;
  type: string;
  payload: JsonObject;
  provider: Provider;
  parentIds: string[];
  /** undefined when the request left it unspecified; 'INVALID' for a value outside the enum. */
  status?: JobStatus | 'INVALID';
  startedAt?: Date;
  completedAt?: Date;
  outputHash?: string;
  output?: JsonValue;
  error?: JobError;
  labels: Record<string, string>;
  metadata: JsonObject;
  allowMissingParents: boolean;
  readers: string[];
  attempt: number;
  etag?: string;
  cacheSalt?: string;
}

export interface PageRequest {
  pageSize: number;
  pageToken?: string;
}

export interface ListJobsCommand extends PageRequest {
  filter?: string;
}

/** COMPACT: what IDS shows, packed by the transport (the job ids once, the edges as index pairs). */
export type LineageView = 'IDS' | 'BASIC' | 'FULL' | 'COMPACT';

/** The filter and fan-out caps GetLineage, StreamLineage and ExportProvenanceGraph take (lineage-selection.ts). */
export interface LineageShaping {
  /** ListJobs filter syntax; '' or absent: no filter. */
  filter?: string;
  /** 'INVALID' for a value outside the enum. */
  filterMode?: LineageFilterMode | 'INVALID';
  /** 0 or absent: no cap. */
  maxChildrenPerNode?: number;
  maxParentsPerNode?: number;
}

/** StreamLineage: the lineage in the IDS view, in messages that each carry a resume token. */
export interface StreamLineageCommand extends LineageShaping {
  jobId: string;
  /** Both directions for LINEAGE_DIRECTION_BOTH; 'INVALID' for a value outside the enum. */
  directions: LineageDirection[] | 'INVALID';
  /** 0: the configured maximum. */
  maxDepth: number;
  /** '' to start; else the token of the last message processed. */
  resumeToken: string;
  /** 0: LINEAGE_STREAM_SLICE_NODES. */
  maxMessageNodes: number;
  /** The lineage as it was then (docs/decisions.md, "As of a time"); undefined: now. */
  asOf?: Date;
}

export interface LineageCommand extends LineageShaping {
  jobId: string;
  /** Both directions for LINEAGE_DIRECTION_BOTH; 'INVALID' for a value outside the enum. */
  directions: LineageDirection[] | 'INVALID';
  /** 0: the configured maximum. */
  maxDepth: number;
  /** 0: the configured maximum. */
  maxNodes: number;
  view: LineageView | 'INVALID';
  /** The lineage as it was then (docs/decisions.md, "As of a time"); undefined: now. */
  asOf?: Date;
}

export interface ListDependentsCommand extends PageRequest {
  jobId: string;
  transitive: boolean;
  /** The dependents as they were then; undefined: now. */
  asOf?: Date;
}

export interface SubmitJobCommand {
  jobId?: string;
  type: string;
  payload: JsonObject;
  provider: Provider;
  parentIds: string[];
  labels: Record<string, string>;
  /** undefined: USE. */
  cachePolicy?: CachePolicy | 'INVALID';
  requestId?: string;
  metadata: JsonObject;
  readers: string[];
  cacheSalt?: string;
}

export interface RerunJobCommand {
  jobId: string;
  /** Merged into the original payload (RFC 7386). */
  payloadOverrides?: JsonObject;
  /** Replaces the original payload. */
  payloadReplacement?: JsonObject;
  /** Used when replaceParents is true. */
  parentIds: string[];
  replaceParents: boolean;
  /** undefined: BYPASS. */
  cachePolicy?: CachePolicy | 'INVALID';
  requestId?: string;
  /** undefined: the original's. */
  cacheSalt?: string;
}

export interface CancelJobCommand {
  jobId: string;
  reason?: string;
}

export interface SetReaderSubjectsCommand {
  jobId: string;
  /** The job's grants from now on, each "tenant/subject"; empty takes every grant back. */
  readers: string[];
  /** The etag the job must still have (AIP-154); undefined: no condition. */
  etag?: string;
}

export interface InvalidateCacheCommand {
  jobId: string;
  dryRun: boolean;
}

export interface WatchEventsCommand {
  jobIds: string[];
  lineageOf?: string;
  eventTypes: string[];
  labels: Record<string, string>;
  /** undefined: NOW. */
  startPosition?: 'NOW' | 'OLDEST' | 'INVALID';
  afterCursor?: string;
}
