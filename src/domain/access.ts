import { createHmac } from 'node:crypto';
import { ProvenanceError, jobNotFound } from './errors.js';
import type { JobRecord } from './job.js';
import type { Principal, Role } from './principal.js';

/**
 * Who may do what (docs/access-model.md). A principal reads its tenant's jobs
 * and the jobs whose reader grants name its tenant and subject; submitters
 * (and admins) write; the owner or an admin of the job's tenant moves a
 * record forward, cancels it and makes it STALE; only the owner changes who
 * else may read it; admins read the audit trail. Permission is checked before
 * existence, and a job the caller may not read is NOT_FOUND, exactly as one
 * that does not exist.
 */

export interface ReadableBy {
  tenant: string;
  /** Reader grants, "tenant/subject" (readerGrant); an entry without '/' (stored before grants named tenants) names no one outside the job's tenant. */
  readers: readonly string[];
}

/** A job's id with its access: what a view needs of the jobs a record names. */
export type JobAccess = ReadableBy & { jobId: string };

/** Between the tenant and the subject of a reader grant. */
const GRANT_SEPARATOR = '/';

/**
 * The reader grant that names this principal: "tenant/subject". None when
 * its tenant holds the separator, since such a grant would read as another
 * tenant's ("a/b" + "c" against "a" + "b/c"): such a principal reads its own
 * tenant's jobs only.
 */
export function readerGrant(principal: Pick<Principal, 'tenant' | 'subject'>): string | undefined {
  return principal.tenant.includes(GRANT_SEPARATOR) ? undefined : `${principal.tenant}${GRANT_SEPARATOR}${principal.subject}`;
}

/** Whether a reader_subjects entry is a grant: a tenant without the separator, the separator, and a subject (which may hold it). */
export function isReaderGrant(value: string): boolean {
  const at = value.indexOf(GRANT_SEPARATOR);
  return at > 0 && at < value.length - 1;
}

export function canRead(principal: Pick<Principal, 'tenant' | 'subject'>, job: ReadableBy): boolean {
  if (job.tenant === principal.tenant) return true;
  const grant = readerGrant(principal);
  return grant !== undefined && job.readers.includes(grant);
}

/** The job if the caller may read it; NOT_FOUND otherwise, whether it exists or not. */
export function readable(principal: Principal, jobId: string, job: JobRecord | undefined): JobRecord {
  if (!job || !canRead(principal, job)) throw jobNotFound(jobId);
  return job;
}

/** The roles that act within a tenant; an admin holds them all there. */
type TenantRole = Exclude<Role, 'operator'>;

/** Admins hold every role within their tenant. */
export function hasRole(principal: Principal, role: TenantRole): boolean {
  return principal.roles.includes(role) || principal.roles.includes('admin');
}

/**
 * The process's metrics count and time jobs of every tenant by type: only an
 * operator reads them. Not an admin, whose authority ends at its tenant.
 */
export function mayReadMetrics(principal: Principal): boolean {
  return principal.roles.includes('operator');
}

export function requireRole(principal: Principal, role: TenantRole, action: string): void {
  if (!hasRole(principal, role)) throw permissionDenied(`${action} needs the ${role} role`);
}

/** Who owns a job, for the rules below. */
export type OwnedJob = Pick<JobRecord, 'tenant' | 'owner'>;

export function isOwner(principal: Principal, job: OwnedJob): boolean {
  return job.owner === principal.subject && job.tenant === principal.tenant;
}

/** The job's owner, or an admin of its tenant: who moves a record forward, cancels a job and makes it STALE. */
export function actsFor(principal: Principal, job: OwnedJob): boolean {
  return isOwner(principal, job) || (principal.roles.includes('admin') && job.tenant === principal.tenant);
}

/** RecordJob moving a record forward, and CancelJob. */
export function requireOwnerOrAdmin(principal: Principal, job: OwnedJob, action: string): void {
  if (!actsFor(principal, job)) throw permissionDenied(`${action} is for the job's owner or an admin of its tenant`);
}

/**
 * Whether the principal may make the job STALE: InvalidateCache asks it of
 * the job named (PERMISSION_DENIED when not) and of each descendant, and a
 * run whose output changed asks it, as its submitter (submitterOf), of each
 * job built on the earlier result; a job it may not make STALE is left as it
 * is, and reported.
 */
export function mayMakeStale(principal: Principal, job: OwnedJob): boolean {
  return actsFor(principal, job);
}

/**
 * Whom a submitted job acts as when it runs: its submitter, without roles.
 * The record keeps who submitted it, not the roles they had: roles are
 * checked when a call is made, and a worker running the job later must not
 * act on a role its submitter may have lost since.
 */
export function submitterOf(job: OwnedJob): Principal {
  return { subject: job.owner, tenant: job.tenant, roles: [] };
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
  return `${PLACEHOLDER_PREFIX}${placeholderDigest(jobId, key).toString('hex', 0, 16)}`;
}

/** What every placeholder starts with: a job id may not (validation.ts), so that no job can pass for another's placeholder. */
export const PLACEHOLDER_PREFIX = 'restricted-';

/**
 * The first 48 bits of the keyed hash a placeholder shows, as a number:
 * placeholders are ordered as these are, but for ties, which their whole
 * strings break. A number to keep per job and compare, where a string per
 * job would not do (the SQLite lineage graph orders hidden jobs by these).
 */
export function placeholderOrderKey(jobId: string, key: Uint8Array): number {
  return placeholderDigest(jobId, key).readUIntBE(0, 6);
}

function placeholderDigest(jobId: string, key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(jobId).digest();
}
