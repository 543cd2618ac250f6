/**
 * The audit trail: one entry per read or write of provenance, in the same
 * database as the records. Adapters: adapters/sqlite and adapters/mongo;
 * test/conformance/audit-log.ts is the suite both must pass.
 *
 * Adapters translate "the database cannot be reached" into ProvenanceError
 * UNAVAILABLE; a request whose entry cannot be written fails with it.
 */
export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  /** One page of a tenant's entries, newest first (by time, then id, both descending). */
  list(query: AuditQuery): Promise<StoredAuditEntry[]>;
}

export interface AuditEntry {
  /** The caller's subject; empty in an entry of another tenant's caller (callerTenant). */
  subject: string;
  /** Whose trail the entry is in: list() selects by it. */
  tenant: string;
  /**
   * Set on an entry written into the trail of a tenant whose jobs another
   * tenant's caller read: that caller's tenant. Absent: the caller is of
   * the trail's tenant.
   */
  callerTenant?: string;
  /** Full gRPC method name, e.g. /provenance.v1.ProvenanceService/GetJob. */
  method: string;
  /** The jobs the call read or wrote (capped by the caller); in another tenant's trail, that tenant's only. */
  jobIds: string[];
  time: Date;
  /** gRPC status code name: OK, NOT_FOUND, … */
  outcome: string;
}

export interface StoredAuditEntry extends AuditEntry {
  /** Unique, and increasing with the order entries were appended in (within one store). */
  id: string;
}

export interface AuditQuery {
  tenant: string;
  subject?: string;
  jobId?: string;
  time?: { gt?: Date; gte?: Date; lt?: Date; lte?: Date };
  limit: number;
  /** The last entry of the previous page. */
  after?: { time: Date; id: string };
}
