import { invalidArgument } from '../../domain/errors.js';
import type { AuditEntry, AuditLog, AuditQuery, StoredAuditEntry } from '../../domain/ports/audit-log.js';
import { closedAdapter } from './closed.js';

/** Ids are decimal numbers from 1, in append order; a position naming anything else is no page token this log gave. */
const ID_PATTERN = /^[1-9][0-9]{0,15}$/;

/**
 * AuditLog in the process's memory, for unit tests of the use cases; it
 * passes the audit log conformance suite. Entries are copied in and out.
 * Once closed, every call fails UNAVAILABLE, as on a database that is gone.
 */
export class MemoryAuditLog implements AuditLog {
  private readonly entries: Array<{ id: number; entry: AuditEntry }> = [];
  private closed = false;

  async append(entry: AuditEntry): Promise<void> {
    this.open();
    this.entries.push({ id: this.entries.length + 1, entry: structuredClone(entry) });
  }

  async list(query: AuditQuery): Promise<StoredAuditEntry[]> {
    this.open();
    const after = query.after && { time: query.after.time.getTime(), id: parseId(query.after.id) };
    const { gt, gte, lt, lte } = query.time ?? {};
    return this.entries
      .filter(({ id, entry }) => {
        const ms = entry.time.getTime();
        return (
          entry.tenant === query.tenant &&
          (query.subject === undefined || entry.subject === query.subject) &&
          (query.jobId === undefined || entry.jobIds.includes(query.jobId)) &&
          (gt === undefined || ms > gt.getTime()) &&
          (gte === undefined || ms >= gte.getTime()) &&
          (lt === undefined || ms < lt.getTime()) &&
          (lte === undefined || ms <= lte.getTime()) &&
          (after === undefined || ms < after.time || (ms === after.time && id < after.id))
        );
      })
      .sort((a, b) => b.entry.time.getTime() - a.entry.time.getTime() || b.id - a.id)
      .slice(0, query.limit)
      .map(({ id, entry }) => ({ ...structuredClone(entry), id: String(id) }));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private open(): void {
    if (this.closed) throw closedAdapter('audit log');
  }
}

function parseId(id: string): number {
  if (!ID_PATTERN.test(id)) throw invalidArgument([{ field: 'page_token', description: 'is not a page token this service issued' }]);
  return Number(id);
}
