import { invalidArgument } from './errors.js';
import { JOB_STATUSES, type JobStatus } from './job.js';
import type { JobFilter, TimeRange } from './ports/provenance-store.js';

/**
 * The ListJobs filter: the AIP-160 subset of comparisons joined by AND.
 *   type = "train" AND status = SUCCEEDED AND labels.team = "ml"
 *   AND create_time >= "2026-01-01T00:00:00Z"
 */

type Token = { kind: 'word' | 'string' | 'op'; text: string; at: number };

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const LABEL_FIELD = /^labels\.([a-z][a-z0-9_-]{0,62})$/;
const STRING_FIELDS = {
  type: 'type',
  'provider.id': 'providerId',
  'provider.model': 'providerModel',
  'provider.version': 'providerVersion',
  definition_hash: 'definitionHash',
} as const;

export function parseJobFilter(text: string | undefined): JobFilter {
  const filter: JobFilter = {};
  if (!text || text.trim() === '') return filter;
  const tokens = tokenize(text);
  let i = 0;
  const next = (expected: string): Token => {
    const token = tokens[i++];
    if (!token) fail(`expected ${expected} at the end`);
    return token;
  };
  for (;;) {
    const field = next('a field name');
    if (field.kind !== 'word') fail(`expected a field name at position ${field.at + 1}`);
    const op = next('an operator');
    if (op.kind !== 'op') fail(`expected an operator after ${field.text} at position ${op.at + 1}`);
    const value = next('a value');
    if (value.kind === 'op') fail(`expected a value at position ${value.at + 1}`);
    applyComparison(filter, field.text, op.text, value);
    if (i === tokens.length) return filter;
    const joiner = tokens[i++]!;
    if (joiner.kind !== 'word' || joiner.text !== 'AND') {
      fail(`expected AND at position ${joiner.at + 1} (only comparisons joined by AND are supported)`);
    }
  }
}

function applyComparison(filter: JobFilter, field: string, op: string, value: Token): void {
  if (field === 'create_time') {
    if (value.kind !== 'string' || !RFC3339.test(value.text)) fail('create_time takes a quoted RFC 3339 time, e.g. "2026-01-01T00:00:00Z"');
    const time = new Date(value.text);
    if (Number.isNaN(time.getTime())) fail(`${value.text} is not a valid time`);
    const range: TimeRange = (filter.createdAt ??= {});
    const bound = { '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' }[op] as keyof TimeRange | undefined;
    if (op === '=') {
      range.gte = time;
      range.lte = time;
    } else if (bound) range[bound] = time;
    else fail(`create_time does not support ${op}`);
    return;
  }
  if (op !== '=') fail(`${field} supports only =`);
  if (field === 'status') {
    const name = value.text.replace(/^JOB_STATUS_/, '');
    if (!(JOB_STATUSES as readonly string[]).includes(name)) fail(`unknown status ${value.text}; use one of ${JOB_STATUSES.join(', ')}`);
    setOnce(filter, 'status', field, name as JobStatus);
    return;
  }
  const label = LABEL_FIELD.exec(field);
  if (label) {
    const labels = (filter.labels ??= {});
    if (label[1]! in labels) fail(`${field} is given twice`);
    labels[label[1]!] = value.text;
    return;
  }
  const key = STRING_FIELDS[field as keyof typeof STRING_FIELDS];
  if (!key) {
    fail(`unknown field ${field}; filterable: type, status, provider.id, provider.model, provider.version, labels.<key>, definition_hash, create_time`);
  }
  if (value.kind !== 'string') fail(`${field} takes a double-quoted string`);
  setOnce(filter, key, field, value.text);
}

function setOnce<K extends keyof JobFilter>(filter: JobFilter, key: K, field: string, value: JobFilter[K]): void {
  if (filter[key] !== undefined) fail(`${field} is given twice`);
  filter[key] = value;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      const at = i;
      let value = '';
      for (i++; ; i++) {
        if (i >= text.length) fail(`unterminated string starting at position ${at + 1}`);
        if (text[i] === '\\' && i + 1 < text.length) value += text[++i];
        else if (text[i] === '"') break;
        else value += text[i];
      }
      i++;
      tokens.push({ kind: 'string', text: value, at });
    } else if ('<>=!'.includes(c)) {
      const op = /^(<=|>=|!=|=|<|>)/.exec(text.slice(i))![0];
      if (op === '!=') fail(`!= is not supported (position ${i + 1})`);
      tokens.push({ kind: 'op', text: op, at: i });
      i += op.length;
    } else {
      const word = /^[A-Za-z0-9_.:-]+/.exec(text.slice(i));
      if (!word) fail(`unexpected character '${c}' at position ${i + 1}`);
      tokens.push({ kind: 'word', text: word[0], at: i });
      i += word[0].length;
    }
  }
  return tokens;
}

function fail(description: string): never {
  throw invalidArgument([{ field: 'filter', description }]);
}
