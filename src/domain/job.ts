import type { ProvenanceEvent } from './job-events.js';
import type { JsonObject, JsonValue } from './json.js';

export const JOB_STATUSES = ['QUEUED', 'WAITING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export type CacheState = 'NONE' | 'FRESH' | 'STALE';
/** Whether a submitted job may reuse a cached result: USE reads the cache, BYPASS never does, REFRESH runs and becomes the newest result. */
export type CachePolicy = 'USE' | 'BYPASS' | 'REFRESH';
export type JobOrigin = 'RECORDED' | 'SUBMITTED';

export interface Provider {
  id: string;
  model: string;
  version: string;
}

export interface JobResult {
  outputHash: string;
  output?: JsonValue;
  cached: boolean;
  cachedFromJobId?: string;
}

export interface JobError {
  reason: string;
  message: string;
  dependencyJobId?: string;
}

/** The provenance document: one per job, the unit every store keeps. */
export interface JobRecord {
  jobId: string;
  type: string;
  payload: JsonObject;
  definitionHash: string;
  inputHash: string;
  provider: Provider;
  /** The edges of the lineage graph, in the order the client gave them. */
  parentIds: string[];
  status: JobStatus;
  cacheState: CacheState;
  result?: JobResult;
  error?: JobError;
  createdAt: Date;
  startedAt?: Date;
  completedAt?: Date;
  updatedAt: Date;
  durationMs?: number;
  attempt: number;
  rerunOfJobId?: string;
  labels: Record<string, string>;
  metadata: JsonObject;
  tenant: string;
  owner: string;
  readers: string[];
  etag: string;
  origin: JobOrigin;
  payloadRedacted: boolean;
  /** For submitted jobs: how the worker uses the result cache. */
  cachePolicy?: CachePolicy;
  /** The salt the creating request named (cache-salt.ts); absent: none. */
  cacheSalt?: string;
  /** The tenant's salt (PROVENANCE_CACHE_SALTS) when the job was created; absent: none. */
  tenantCacheSalt?: string;
  /** Idempotency key of the request that created the record (AIP-155). */
  requestId?: string;
  /** Fingerprint of the request that created the record: replays of it are answered from the record. */
  requestHash: string;
  /** Number of the job's last event (0 or absent: none yet). */
  eventSeq?: number;
  /** The outbox: events of writes of this record not yet appended to the event log, oldest first. */
  pendingEvents?: ProvenanceEvent[];
}

export function isTerminal(status: JobStatus): boolean {
  return status === 'SUCCEEDED' || status === 'FAILED' || status === 'CANCELLED';
}

/** Live statuses may only move toward terminal ones: QUEUED/WAITING, then RUNNING, then a terminal status. */
export function isForwardTransition(from: JobStatus, to: JobStatus): boolean {
  return lifecycleRank(to) > lifecycleRank(from) || (lifecycleRank(from) === 0 && lifecycleRank(to) === 0 && from !== to);
}

function lifecycleRank(status: JobStatus): number {
  if (status === 'QUEUED' || status === 'WAITING') return 0;
  return status === 'RUNNING' ? 1 : 2;
}

export function cacheStateFor(status: JobStatus): CacheState {
  return status === 'SUCCEEDED' ? 'FRESH' : 'NONE';
}
