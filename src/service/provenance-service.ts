import type {
  CancelJobCommand,
  InvalidateCacheCommand,
  LineageCommand,
  StreamLineageCommand,
  ListDependentsCommand,
  ListJobsCommand,
  PageRequest,
  RecordJobCommand,
  RerunJobCommand,
  SetReaderSubjectsCommand,
  SubmitJobCommand,
  WatchEventsCommand,
} from '../domain/commands.js';
import { ProvenanceError } from '../domain/errors.js';
import type { JobView } from '../domain/job-view.js';
import type { Lineage, LineageReadingRecords } from '../domain/lineage.js';
import type { PageBytes } from '../domain/page-bytes.js';
import type { HandlerCatalog } from '../domain/ports/job-handlers.js';
import type { AuditLog, StoredAuditEntry } from '../domain/ports/audit-log.js';
import type { JobQueue, QueueDelivery } from '../domain/ports/job-queue.js';
import type { Metrics } from '../domain/ports/metrics.js';
import type { Principal } from '../domain/principal.js';
import type { ServiceLimits } from '../domain/validation.js';
import { compareJobs, type CompareJobsCommand } from './compare-jobs.js';
import type { JobComparison } from '../domain/comparison.js';
import { getJob, listJobs, type JobPage } from './job-queries.js';
import {
  checkJobReproducibility,
  exportGraph,
  getLineage,
  type LineageAnswer,
  streamLineage,
  type LineageStreamMessage,
  listDependents,
  type DependentsPage,
  type ExportCommand,
  type ReproducibilityReport,
} from './lineage-queries.js';
import { audit, listAuditEvents, type AuditPage } from './audit.js';
import type { EventHub, Subscription } from './event-stream/event-hub.js';
import type { RelayingStore } from './event-stream/publishing-store.js';
import type { JobAccessCache } from './event-stream/job-access-cache.js';
import type { DependentsSnapshots } from './dependents-snapshots.js';
import { watchEvents } from './event-stream/subscribe.js';
import { cancelJob } from './execution/cancel-job.js';
import { setReaderSubjects } from './reader-grants.js';
import { invalidateCache, type Invalidation } from './execution/invalidation.js';
import { repairSweep } from './execution/repair.js';
import { runDelivery } from './execution/run-job.js';
import { rerunJob, submitJob } from './execution/submit-job.js';
import { recordJobs, type AnswerCheck, type RecordOutcome } from './record-jobs.js';

export interface ServiceDependencies {
  /** The store with its writes relayed to the event log (PublishingStore). */
  store: RelayingStore;
  queue: JobQueue;
  /** This process's fan-out of the event log; started only where WatchEvents is served. */
  hub: EventHub;
  /** Who may read the jobs events name, for showing events to each subscriber. */
  eventJobAccess: JobAccessCache;
  /** The walks that transitive ListDependents page tokens resume from. */
  dependentsSnapshots: DependentsSnapshots;
  handlers: HandlerCatalog;
  limits: ServiceLimits;
  execution: ExecutionSettings;
  /** The deployment's secret: keys page tokens and the opaque ids of restricted jobs. */
  secret: Buffer;
  audit: AuditLog;
  metrics: Metrics;
  log: ServiceLog;
  now: () => Date;
}

export interface ExecutionSettings {
  /** How old a cached result may be; 0: any age. */
  cacheTtlMs: number;
  /** Each tenant's cache salt (PROVENANCE_CACHE_SALTS): new records take their tenant's. */
  tenantCacheSalts: ReadonlyMap<string, string>;
  /** A handler still running after this is aborted and the attempt fails with TIMEOUT. */
  jobTimeoutMs: number;
  /** Outputs larger than this (canonical JSON) keep only their hash. */
  maxOutputBytes: number;
}

/** What the service logs through: work that happens after the caller got the answer (workers, sweeps). */
export interface ServiceLog {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The use cases, one method each. It speaks domain types only: no gRPC, no driver. */
export class ProvenanceService {
  constructor(private readonly deps: ServiceDependencies) {}

  async recordJob(principal: Principal, command: RecordJobCommand, answerCheck?: AnswerCheck): Promise<JobView> {
    const [outcome] = await recordJobs(this.deps, principal, [command], answerCheck);
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.job;
  }

  batchRecordJobs(principal: Principal, commands: readonly RecordJobCommand[], answerCheck?: AnswerCheck): Promise<RecordOutcome[]> {
    return recordJobs(this.deps, principal, commands, answerCheck);
  }

  setReaderSubjects(principal: Principal, command: SetReaderSubjectsCommand): Promise<JobView> {
    return setReaderSubjects(this.deps, principal, command);
  }

  getJob(principal: Principal, jobId: string | undefined, asOf?: Date): Promise<JobView> {
    return getJob(this.deps, principal, jobId, asOf);
  }

  listJobs(principal: Principal, command: ListJobsCommand, pageBytes?: PageBytes<JobView>): Promise<JobPage> {
    return listJobs(this.deps, principal, command, pageBytes);
  }

  getLineage<C extends LineageCommand>(principal: Principal, command: C): Promise<LineageAnswer<C['view']>> {
    return getLineage(this.deps, principal, command);
  }

  listDependents(principal: Principal, command: ListDependentsCommand): Promise<DependentsPage> {
    return listDependents(this.deps, principal, command);
  }

  exportGraph(principal: Principal, command: ExportCommand): Promise<Lineage<JobView> | LineageReadingRecords<JobView>> {
    return exportGraph(this.deps, principal, command);
  }

  checkReproducibility(principal: Principal, jobId: string): Promise<ReproducibilityReport> {
    return checkJobReproducibility(this.deps, principal, jobId);
  }

  compareJobs(principal: Principal, command: CompareJobsCommand): Promise<JobComparison> {
    return compareJobs(this.deps, principal, command);
  }

  streamLineage(principal: Principal, command: StreamLineageCommand): Promise<AsyncIterable<LineageStreamMessage>> {
    return streamLineage(this.deps, principal, command);
  }

  submitJob(principal: Principal, command: SubmitJobCommand): Promise<JobView> {
    return submitJob(this.deps, principal, command);
  }

  rerunJob(principal: Principal, command: RerunJobCommand): Promise<JobView> {
    return rerunJob(this.deps, principal, command);
  }

  cancelJob(principal: Principal, command: CancelJobCommand): Promise<JobView> {
    return cancelJob(this.deps, principal, command);
  }

  invalidateCache(principal: Principal, command: InvalidateCacheCommand): Promise<Invalidation> {
    return invalidateCache(this.deps, principal, command);
  }

  watchEvents(principal: Principal, command: WatchEventsCommand): Promise<Subscription> {
    return watchEvents(this.deps, principal, command);
  }

  /** Appends to the audit trail (and to the trails of other tenants whose jobs the call read); UNAVAILABLE when it cannot. shownTenants: the tenants of named jobs the answer showed. */
  audit(principal: Principal, method: string, jobIds: readonly string[], outcome: string, shownTenants?: ReadonlyMap<string, string>): Promise<void> {
    return audit(this.deps, principal, method, jobIds, outcome, shownTenants);
  }

  listAuditEvents(principal: Principal, command: PageRequest & { filter?: string }, pageBytes?: PageBytes<StoredAuditEntry>): Promise<AuditPage> {
    return listAuditEvents(this.deps, principal, command, pageBytes);
  }

  /** A worker's handling of one queue delivery. */
  runDelivery(delivery: QueueDelivery): Promise<void> {
    return runDelivery(this.deps, delivery);
  }

  /** Re-links queue and records after a crash or a queue that lost its data. */
  repairSweep(): Promise<{ enqueued: number }> {
    return repairSweep(this.deps);
  }

  /** Whether the store answers and loads nothing in the background: the health check's readiness. */
  async isReady(): Promise<boolean> {
    return (await answers(() => this.deps.store.ping())) && this.deps.store.loading() === undefined;
  }

  /** Settles when what the store loads in the background is loaded (undefined: nothing loads), so that health need not wait for its next check. */
  backgroundLoad(): Promise<void> | undefined {
    return this.deps.store.loading()?.done;
  }

  /**
   * Whether each dependency a call may need answers: the store, and the job
   * queue (Redis); and, while the store loads something in the background,
   * that by name, with its progress (not ready until it is loaded).
   */
  async readiness(): Promise<Record<string, boolean | string>> {
    const [store, queue] = await Promise.all([answers(() => this.deps.store.ping()), answers(() => this.deps.queue.ping())]);
    const loading = this.deps.store.loading();
    return { store, queue, ...(loading ? { [loading.name]: loading.progress } : {}) };
  }
}

/** Whether a ping succeeds; an unreachable dependency answers false, a bug still throws. */
async function answers(ping: () => Promise<void>): Promise<boolean> {
  try {
    await ping();
    return true;
  } catch (error) {
    if (error instanceof ProvenanceError) return false;
    throw error;
  }
}
