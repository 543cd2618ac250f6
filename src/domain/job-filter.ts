import { JOB_STATUSES, type JobRecord, type JobStatus } from './job.js';
import { addTimeBound, filterError, parseComparisons, stringValue } from './filter-syntax.js';
import type { JobFilter } from './ports/provenance-store.js';

/**
 * The ListJobs filter (AIP-160 subset, filter-syntax.ts):
 *   type = "train" AND status = SUCCEEDED AND labels.team = "ml"
 *   AND create_time >= "2026-01-01T00:00:00Z"
 */

const LABEL_FIELD = /^labels\.([a-z][a-z0-9_-]{0,62})$/;
/** A Map, so that a field named like an Object member (constructor, toString) is unknown like any other. */
const STRING_FIELDS = new Map<string, 'type' | 'providerId' | 'providerModel' | 'providerVersion' | 'definitionHash'>([
  ['type', 'type'],
  ['provider.id', 'providerId'],
  ['provider.model', 'providerModel'],
  ['provider.version', 'providerVersion'],
  ['definition_hash', 'definitionHash'],
]);

export function parseJobFilter(text: string | undefined): JobFilter {
  const filter: JobFilter = {};
  for (const comparison of parseComparisons(text)) {
    const { field, op, value } = comparison;
    if (field === 'create_time') {
      addTimeBound((filter.createdAt ??= {}), comparison);
    } else if (field === 'status') {
      if (op !== '=') throw filterError(`${field} supports only =`);
      const name = value.text.replace(/^JOB_STATUS_/, '');
      if (!(JOB_STATUSES as readonly string[]).includes(name)) throw filterError(`unknown status ${value.text}; use one of ${JOB_STATUSES.join(', ')}`);
      setOnce(filter, 'status', field, name as JobStatus);
    } else if (LABEL_FIELD.test(field)) {
      const key = LABEL_FIELD.exec(field)![1]!;
      const labels = (filter.labels ??= {});
      if (Object.hasOwn(labels, key)) throw filterError(`${field} is given twice`);
      labels[key] = stringValue(comparison);
    } else if (STRING_FIELDS.has(field)) {
      setOnce(filter, STRING_FIELDS.get(field)!, field, stringValue(comparison));
    } else {
      throw filterError(`unknown field ${field}; filterable: type, status, provider.id, provider.model, provider.version, labels.<key>, definition_hash, create_time`);
    }
  }
  return filter;
}

function setOnce<K extends keyof JobFilter>(filter: JobFilter, key: K, field: string, value: JobFilter[K]): void {
  if (filter[key] !== undefined) throw filterError(`${field} is given twice`);
  filter[key] = value;
}

/** The fields of a job a filter tests: what a lineage row of the SUMMARY projection has (type, status), and the record for the others. */
export type FilteredJob = Pick<JobRecord, 'type' | 'status'> & { record?: Pick<JobRecord, 'provider' | 'labels' | 'createdAt' | 'definitionHash'> };

/** Whether testing the filter needs the whole record, not only a job's type and status. */
export function filterNeedsRecord(filter: JobFilter): boolean {
  return (
    filter.providerId !== undefined ||
    filter.providerModel !== undefined ||
    filter.providerVersion !== undefined ||
    filter.definitionHash !== undefined ||
    filter.labels !== undefined ||
    filter.createdAt !== undefined
  );
}

/** Whether a job meets every condition of the filter (as ListJobs selects records); a condition on a field the job does not carry fails. */
export function jobMatches(job: Partial<FilteredJob>, filter: JobFilter): boolean {
  if (filter.type !== undefined && job.type !== filter.type) return false;
  if (filter.status !== undefined && job.status !== filter.status) return false;
  if (!filterNeedsRecord(filter)) return true;
  const record = job.record;
  if (!record) return false;
  if (filter.providerId !== undefined && record.provider.id !== filter.providerId) return false;
  if (filter.providerModel !== undefined && record.provider.model !== filter.providerModel) return false;
  if (filter.providerVersion !== undefined && record.provider.version !== filter.providerVersion) return false;
  if (filter.definitionHash !== undefined && record.definitionHash !== filter.definitionHash) return false;
  for (const [key, value] of Object.entries(filter.labels ?? {})) if (!Object.hasOwn(record.labels, key) || record.labels[key] !== value) return false;
  const time = record.createdAt.getTime();
  const { gt, gte, lt, lte } = filter.createdAt ?? {};
  return (gt === undefined || time > gt.getTime()) && (gte === undefined || time >= gte.getTime()) && (lt === undefined || time < lt.getTime()) && (lte === undefined || time <= lte.getTime());
}
