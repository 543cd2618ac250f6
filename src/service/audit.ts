import { canRead, readerGrant, requireRole } from '../domain/access.js';
import { parseAuditFilter } from '../domain/audit-filter.js';
import type { PageRequest } from '../domain/commands.js';
import { invalidArgument, unavailable } from '../domain/errors.js';
import { itemsWithin, type PageBytes } from '../domain/page-bytes.js';
import { decodePageToken, encodePageToken } from '../domain/page-token.js';
import type { AuditEntry, StoredAuditEntry } from '../domain/ports/audit-log.js';
import type { Principal } from '../domain/principal.js';
import { Violations, effectivePageSize } from '../domain/validation.js';
import type { ServiceDependencies } from './provenance-service.js';

/** How many job ids one audit entry keeps (a batch of PROVENANCE_BATCH_SIZE records fits); the copies of a call into another tenant's trail take as many entries as its jobs need. */
const MAX_AUDITED_JOB_IDS = 1000;

/**
 * Appends the call's entry to the audit trail of the caller's tenant and, when
 * an answered call read jobs of other tenants (shared with the caller), one
 * per 1000 of their jobs to each of those tenants' trails too: naming their
 * jobs only, and the caller by its tenant alone (docs/access-model.md, Audit
 * trail). The tenants
 * of the named jobs come from `shownTenants` (what the answer showed) or are
 * looked up. Nothing can switch this off: when an entry cannot be written,
 * the caller gets UNAVAILABLE instead of its answer (a write it made stands;
 * a retry with the same request_id is safe).
 */
export async function audit(
  deps: ServiceDependencies,
  principal: Principal,
  method: string,
  jobIds: readonly string[],
  outcome: string,
  shownTenants: ReadonlyMap<string, string> = new Map(),
): Promise<void> {
  const named = firstDistinct(jobIds, MAX_AUDITED_JOB_IDS);
  const time = deps.now();
  try {
    const entries: AuditEntry[] = [{ subject: principal.subject, tenant: principal.tenant, method, jobIds: named, time, outcome }];
    // A refused call read nothing; a caller no grant names can read no other tenant's job.
    if (outcome === 'OK' && readerGrant(principal) !== undefined) {
      // Every job of another tenant the call read, past the cap of the caller's entry (a batch's parents come after its
      // records): the copy is that tenant's only record of the read. An answered call names as many as its request's limits allow.
      const read = jobIds.length > named.length ? firstDistinct(jobIds, Infinity) : named;
      for (const [tenant, ids] of await otherTenantsJobs(deps, principal, read, shownTenants)) {
        for (let start = 0; start < ids.length; start += MAX_AUDITED_JOB_IDS) {
          entries.push({ subject: '', tenant, callerTenant: principal.tenant, method, jobIds: ids.slice(start, start + MAX_AUDITED_JOB_IDS), time, outcome });
        }
      }
    }
    await Promise.all(entries.map((entry) => deps.audit.append(entry)));
  } catch (error) {
    deps.log.error({ err: error, method, subject: principal.subject }, 'audit entry not written: the request is answered UNAVAILABLE');
    throw unavailable('the audit trail cannot be written right now, so the request is not answered; retry', 1000, 'AUDIT_UNAVAILABLE');
  }
}

/**
 * The named jobs of tenants other than the caller's, by tenant: those the
 * answer showed, and those the caller may read among the others (a
 * WatchEvents filter may name jobs it may not read: it gets none of their
 * events, and their tenant is not told of it).
 */
async function otherTenantsJobs(
  deps: ServiceDependencies,
  principal: Principal,
  jobIds: readonly string[],
  shownTenants: ReadonlyMap<string, string>,
): Promise<Map<string, string[]>> {
  const unknown = jobIds.filter((id) => !shownTenants.has(id));
  const looked = unknown.length > 0 ? await deps.store.getAccess(unknown) : [];
  const readTenants = new Map(looked.filter((job) => canRead(principal, job)).map((job) => [job.jobId, job.tenant]));
  const byTenant = new Map<string, string[]>();
  for (const id of jobIds) {
    const tenant = shownTenants.get(id) ?? readTenants.get(id);
    if (tenant === undefined || tenant === principal.tenant) continue;
    const ids = byTenant.get(tenant);
    if (ids) ids.push(id);
    else byTenant.set(tenant, [id]);
  }
  return byTenant;
}

/** The first `limit` distinct ids, in order; stops reading there, as a lineage answer may name tens of thousands. */
function firstDistinct(ids: readonly string[], limit: number): string[] {
  const distinct = new Set<string>();
  for (const id of ids) {
    if (distinct.size === limit) break;
    distinct.add(id);
  }
  return [...distinct];
}

export interface AuditPage {
  entries: StoredAuditEntry[];
  nextPageToken: string;
}

/** ListAuditEvents: the tenant's audit trail, newest first, for admins. */
export async function listAuditEvents(deps: ServiceDependencies, principal: Principal, command: PageRequest & { filter?: string }, pageBytes?: PageBytes<StoredAuditEntry>): Promise<AuditPage> {
  requireRole(principal, 'admin', 'ListAuditEvents');
  const v = new Violations();
  v.nonNegative('page_size', command.pageSize);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const filter = parseAuditFilter(command.filter);
  const query = { method: 'ListAuditEvents', tenant: principal.tenant, filter: command.filter ?? '' };
  const position = command.pageToken ? decodePageToken(command.pageToken, query, deps.secret) : undefined;
  if (position && (typeof position.time !== 'number' || typeof position.id !== 'string')) {
    throw invalidArgument([{ field: 'page_token', description: 'is not a page token this service issued' }]);
  }
  const pageSize = effectivePageSize(command.pageSize);
  const entries = await deps.audit.list({
    ...filter,
    tenant: principal.tenant,
    limit: pageSize + 1,
    ...(position ? { after: { time: new Date(position.time as number), id: position.id as string } } : {}),
  });
  const page = entries.slice(0, itemsWithin(entries.slice(0, pageSize), pageBytes));
  if (page.length === entries.length) return { entries, nextPageToken: '' };
  const last = page[page.length - 1]!;
  return { entries: page, nextPageToken: encodePageToken(query, { time: last.time.getTime(), id: last.id }, deps.secret) };
}
