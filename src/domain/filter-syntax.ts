import { invalidArgument } from './errors.js';

/**
 * The AIP-160 subset both list filters take: comparisons joined by AND, with
 * no parentheses, so nothing nests.
 *   field = "quoted string" AND field = BARE_WORD AND time >= "2026-01-01T00:00:00Z"
 * Each filter (job-filter.ts, audit-filter.ts) maps the fields it knows.
 */

/**
 * The longest filter, in UTF-16 code units: every filter that can match
 * anything fits (ListJobs: 64 label comparisons with the longest keys and
 * values, plus every other field, take about 10,500), and it is refused
 * before it is read.
 */
export const MAX_FILTER_LENGTH = 16_384;
/**
 * The most comparisons in one filter: more than any filter that can match
 * anything needs (ListJobs: 64 labels, 6 other fields, 4 time bounds), and
 * few enough that the store's query stays far below SQLite's expression
 * depth limit of 1,000.
 */
export const MAX_FILTER_COMPARISONS = 100;

export type Operator = '=' | '<' | '<=' | '>' | '>=';

export interface Comparison {
  field: string;
  op: Operator;
  value: { kind: 'word' | 'string'; text: string };
}

export interface TimeBounds {
  gt?: Date;
  gte?: Date;
  lt?: Date;
  lte?: Date;
}

type Token = { kind: 'word' | 'string' | 'op'; text: string; at: number };

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const BOUNDS = { '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' } as const;

export function parseComparisons(text: string | undefined): Comparison[] {
  if (!text || text.trim() === '') return [];
  if (text.length > MAX_FILTER_LENGTH) throw filterError(`is ${text.length} characters long; the limit is ${MAX_FILTER_LENGTH}`);
  const tokens = tokenize(text);
  const comparisons: Comparison[] = [];
  let i = 0;
  const next = (expected: string): Token => {
    const token = tokens[i++];
    if (!token) throw filterError(`expected ${expected} at the end`);
    return token;
  };
  for (;;) {
    const field = next('a field name');
    if (field.kind !== 'word') throw filterError(`expected a field name at position ${field.at + 1}`);
    const op = next('an operator');
    if (op.kind !== 'op') throw filterError(`expected an operator after ${field.text} at position ${op.at + 1}`);
    const value = next('a value');
    if (value.kind === 'op') throw filterError(`expected a value at position ${value.at + 1}`);
    if (comparisons.length === MAX_FILTER_COMPARISONS) throw filterError(`has more than ${MAX_FILTER_COMPARISONS} comparisons`);
    comparisons.push({ field: field.text, op: op.text as Operator, value: { kind: value.kind, text: value.text } });
    if (i === tokens.length) return comparisons;
    const joiner = tokens[i++]!;
    if (joiner.kind !== 'word' || joiner.text !== 'AND') {
      throw filterError(`expected AND at position ${joiner.at + 1} (only comparisons joined by AND are supported)`);
    }
  }
}

/**
 * Whether the date, clock and offset of an RFC 3339 text are real (no
 * 30 February, no hour 24, no offset past 23:59): Date rolls such a text over
 * into the next day or month instead of refusing it.
 */
function namesRealClock(text: string): boolean {
  const [year, month, day, hour, minute, second] = text.match(/\d+/g)!.map(Number);
  const offset = /([+-])(\d{2}):(\d{2})$/.exec(text);
  if (offset && (Number(offset[2]) > 23 || Number(offset[3]) > 59)) return false;
  // Day 0 of the next month is the last of this one; setUTCFullYear, unlike Date.UTC, does not take years 0 to 99 for 1900 to 1999.
  const lastOfMonth = new Date(0);
  lastOfMonth.setUTCFullYear(year!, month!, 0);
  return month! >= 1 && month! <= 12 && day! >= 1 && day! <= lastOfMonth.getUTCDate() && hour! <= 23 && minute! <= 59 && second! <= 59;
}

/** Adds a time comparison to bounds: = sets both >= and <=; a bound given twice is refused. */
export function addTimeBound(bounds: TimeBounds, { field, op, value }: Comparison): void {
  if (value.kind !== 'string' || !RFC3339.test(value.text)) throw filterError(`${field} takes a quoted RFC 3339 time, e.g. "2026-01-01T00:00:00Z"`);
  const time = new Date(value.text);
  if (Number.isNaN(time.getTime()) || !namesRealClock(value.text)) throw filterError(`${value.text} is not a valid time`);
  for (const bound of op === '=' ? (['gte', 'lte'] as const) : [BOUNDS[op]]) {
    if (bounds[bound] !== undefined) {
      const name = Object.entries(BOUNDS).find(([, b]) => b === bound)![0];
      throw filterError(`${field} ${name} is given twice (${field} = counts as both >= and <=)`);
    }
    bounds[bound] = time;
  }
}

/** The text of a string comparison (=, double-quoted value). */
export function stringValue({ field, op, value }: Comparison): string {
  if (op !== '=') throw filterError(`${field} supports only =`);
  if (value.kind !== 'string') throw filterError(`${field} takes a double-quoted string`);
  return value.text;
}

export function filterError(description: string) {
  return invalidArgument([{ field: 'filter', description }]);
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
        if (i >= text.length) throw filterError(`unterminated string starting at position ${at + 1}`);
        if (text[i] === '\\' && i + 1 < text.length) value += text[++i];
        else if (text[i] === '"') break;
        else value += text[i];
      }
      i++;
      tokens.push({ kind: 'string', text: value, at });
    } else if ('<>=!'.includes(c)) {
      const matched = /^(<=|>=|!=|=|<|>)/.exec(text.slice(i));
      // A '!' alone is no operator.
      if (!matched) throw filterError(`unexpected character '${c}' at position ${i + 1}`);
      const op = matched[0];
      if (op === '!=') throw filterError(`!= is not supported (position ${i + 1})`);
      tokens.push({ kind: 'op', text: op, at: i });
      i += op.length;
    } else {
      const word = /^[A-Za-z0-9_.:-]+/.exec(text.slice(i));
      // The whole character: a UTF-16 unit alone can be half of one, which no status message may carry.
      if (!word) throw filterError(`unexpected character '${String.fromCodePoint(text.codePointAt(i)!)}' at position ${i + 1}`);
      tokens.push({ kind: 'word', text: word[0], at: i });
      i += word[0].length;
    }
  }
  return tokens;
}
