import type { LineageCommand, ListDependentsCommand, ListJobsCommand, RecordJobCommand } from '../domain/commands.js';
import { ProvenanceError } from '../domain/errors.js';
import type { JobRecord } from '../domain/job.js';
import type { Lineage } from '../domain/lineage.js';
import type { ProvenanceStore } from '../domain/ports/provenance-store.js';
import type { Principal } from '../domain/principal.js';
import type { ServiceLimits } from '../domain/validation.js';
import { getJob, listJobs, type JobPage } from './job-queries.js';
import {
  checkJobReproducibility,
  exportGraph,
  getLineage,
  listDependents,
  type DependentsPage,
  type ExportCommand,
  type ReproducibilityReport,
} from './lineage-queries.js';
import { recordJobs, type RecordOutcome } from './record-jobs.js';

export interface ServiceDependencies {
  store: ProvenanceStore;
  limits: ServiceLimits;
  now: () => Date;
}

/** The use cases, one method each. It speaks domain types only: no gRPC, no driver. */
export class ProvenanceService {
  constructor(private readonly deps: ServiceDependencies) {}

  async recordJob(principal: Principal, command: RecordJobCommand): Promise<JobRecord> {
    const [outcome] = await recordJobs(this.deps, principal, [command]);
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.job;
  }

  batchRecordJobs(principal: Principal, commands: readonly RecordJobCommand[]): Promise<RecordOutcome[]> {
    return recordJobs(this.deps, principal, commands);
  }

  getJob(principal: Principal, jobId: string | undefined): Promise<JobRecord> {
    return getJob(this.deps, principal, jobId);
  }

  listJobs(principal: Principal, command: ListJobsCommand): Promise<JobPage> {
    return listJobs(this.deps, principal, command);
  }

  getLineage(principal: Principal, command: LineageCommand): Promise<Lineage> {
    return getLineage(this.deps, principal, command);
  }

  listDependents(principal: Principal, command: ListDependentsCommand): Promise<DependentsPage> {
    return listDependents(this.deps, principal, command);
  }

  exportGraph(principal: Principal, command: ExportCommand): Promise<Lineage> {
    return exportGraph(this.deps, principal, command);
  }

  checkReproducibility(principal: Principal, jobId: string): Promise<ReproducibilityReport> {
    return checkJobReproducibility(this.deps, principal, jobId);
  }

  /** Whether the store answers: the health check's readiness. */
  async isReady(): Promise<boolean> {
    try {
      await this.deps.store.ping();
      return true;
    } catch (error) {
      if (error instanceof ProvenanceError) return false;
      throw error;
    }
  }
}
