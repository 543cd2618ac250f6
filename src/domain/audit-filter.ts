import { addTimeBound, filterError, parseComparisons, stringValue } from './filter-syntax.js';
import type { AuditQuery } from './ports/audit-log.js';

/**
 * The ListAuditEvents filter (AIP-160 subset, filter-syntax.ts):
 *   subject = "alice" AND job_id = "train-42"
 *   AND time >= "2026-01-01T00:00:00Z" AND time < "2026-02-01T00:00:00Z"
 */

export type AuditFilter = Omit<AuditQuery, 'tenant' | 'limit' | 'after'>;

/** A Map, so that a field named like an Object member (constructor, toString) is unknown like any other. */
const STRING_FIELDS = new Map<string, 'subject' | 'jobId'>([
  ['subject', 'subject'],
  ['job_id', 'jobId'],
]);

export function parseAuditFilter(text: string | undefined): AuditFilter {
  const filter: AuditFilter = {};
  for (const comparison of parseComparisons(text)) {
    const { field } = comparison;
    if (field === 'time') {
      addTimeBound((filter.time ??= {}), comparison);
    } else if (STRING_FIELDS.has(field)) {
      const key = STRING_FIELDS.get(field)!;
      if (filter[key] !== undefined) throw filterError(`${field} is given twice`);
      filter[key] = stringValue(comparison);
    } else {
      throw filterError(`unknown field ${field}; filterable: subject, job_id, time`);
    }
  }
  return filter;
}
