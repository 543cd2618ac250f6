import { createHmac } from 'node:crypto';
import { ProvenanceError, jobNotFound } from './errors.js';
import type { JobRecord } from './job.js';
import type { Principal, Role } from './principal.js';

/**
 * Who may do what. A principal reads its tenant's jobs and the jobs that
 * name its subject among their readers; submitters (and admins) write; the
 * owner or an admin of the tenant cancels and invalidates; admins read the
 * audit trail. Permission is checked before existence, and a job the caller
 * may not read is NOT_FOUND, exactly as one that does not exist.
 */

export interface ReadableBy {
  tenant: string;
  readers: readonly string[];
}

export function canRead(principal: Pick<Principal, 'tenant' | 'subject'>, job: ReadableBy): boolean {
  return job.tenant === principal.tenant || job.readers.includes(principal.subject);
}

/** The job if the caller may read it; NOT_FOUND otherwise, whether it exists or not. */
export function readable(principal: Principal, jobId: string, job: JobRecord | undefined): JobRecord {
  if (!job || !canRead(principal, job)) throw jobNotFound(jobId);
  return job;
}

/** Admins hold every role within their tenant. */
export function hasRole(principal: Principal, role: Role): boolean {
  return principal.roles.includes(role) || principal.roles.includes('admin');
}

export function requireRole(principal: Principal, role: Role, action: string): void {
  if (!hasRole(principal, role)) throw permissionDenied(`${action} needs the ${role} role`);
}

/** CancelJob and InvalidateCache: the job's owner, or an admin of its tenant. */
export function requireOwnerOrAdmin(principal: Principal, job: JobRecord, action: string): void {
  const admin = principal.roles.includes('admin') && job.tenant === principal.tenant;
  const owner = job.owner === principal.subject && job.tenant === principal.tenant;
  if (!admin && !owner) throw permissionDenied(`${action} is for the job's owner or an admin of its tenant`);
}

export function permissionDenied(message: string): ProvenanceError {
  return new ProvenanceError('PERMISSION_DENIED', message, 'PERMISSION_DENIED');
}

/**
 * The id a restricted job is shown under: a keyed hash of its real id, the
 * same in every answer of this deployment (so that the lineage's shape holds
 * together) and useless for guessing ids without the key.
 */
export function opaqueJobId(jobId: string, key: Buffer): string {
  return `restricted-${createHmac('sha256', key).update(jobId).digest('hex').slice(0, 32)}`;
}
