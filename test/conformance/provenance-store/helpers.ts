import { expect } from 'chai';
import { compareCodeUnits, outputHash } from '../../../src/domain/hashing.js';
import type { JobRecord } from '../../../src/domain/job.js';
import type { JsonObject, JsonValue } from '../../../src/domain/json.js';
import type { LineageRow } from '../../../src/domain/lineage.js';
import type { JobFilter, ListJobsQuery, ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { makeJob, mulberry32, nextJobId } from '../../support/job-records.js';

/** What the parts of the store suite share: writing, sorting and walking records, and records that are hard to keep. */

export async function insertAll(store: ProvenanceStore, records: readonly JobRecord[]): Promise<void> {
  const outcomes = await store.insertJobs(records);
  expect(outcomes).to.deep.equal(records.map(() => ({ inserted: true })));
}

export function ids(records: readonly { jobId: string }[]): string[] {
  return records.map((r) => r.jobId);
}

export function sortById<T extends { jobId: string }>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => compareCodeUnits(a.jobId, b.jobId));
}

export function byId(records: readonly JobRecord[]): Map<string, JobRecord> {
  return new Map(records.map((r) => [r.jobId, r]));
}

export function uniqueTenant(): string {
  return nextJobId('tenant');
}

/** A reader grant, "tenant/subject" (the subject may hold '/' too). */
export function uniqueGrant(): string {
  return `${nextJobId('tenant')}/${nextJobId('user')}@example.test/x`;
}

export async function walk(store: ProvenanceStore, first: ListJobsQuery): Promise<string[]> {
  const seen: string[] = [];
  let page = await store.listJobs(first);
  for (let pages = 0; page.length > 0; pages++) {
    expect(page.length).to.be.at.most(first.limit);
    expect(pages, 'pages walked').to.be.below(100);
    seen.push(...ids(page));
    const last = page[page.length - 1]!;
    page = await store.listJobs({ ...first, after: { createdAt: last.createdAt, jobId: last.jobId } });
  }
  return seen;
}

export function newestFirst(records: readonly JobRecord[]): JobRecord[] {
  return [...records].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || compareCodeUnits(b.jobId, a.jobId));
}

/** The JobFilter of the port, written out plainly as the oracle of the listJobs tests. */
export function matches(record: JobRecord, filter: JobFilter): boolean {
  const time = record.createdAt.getTime();
  const range = filter.createdAt ?? {};
  return (
    (filter.type === undefined || record.type === filter.type) &&
    (filter.status === undefined || record.status === filter.status) &&
    (filter.providerId === undefined || record.provider.id === filter.providerId) &&
    (filter.providerModel === undefined || record.provider.model === filter.providerModel) &&
    (filter.providerVersion === undefined || record.provider.version === filter.providerVersion) &&
    (filter.definitionHash === undefined || record.definitionHash === filter.definitionHash) &&
    Object.entries(filter.labels ?? {}).every(([key, value]) => record.labels[key] === value) &&
    (range.gt === undefined || time > range.gt.getTime()) &&
    (range.gte === undefined || time >= range.gte.getTime()) &&
    (range.lt === undefined || time < range.lt.getTime()) &&
    (range.lte === undefined || time <= range.lte.getTime())
  );
}

/** Ids within maxDepth steps of start (start excluded), by plain breadth-first search. */
export function reachable(start: string, next: ReadonlyMap<string, readonly string[]>, maxDepth: number | undefined): Set<string> {
  const depths = shortestDepths(start, next);
  return new Set([...depths].filter(([, depth]) => maxDepth === undefined || depth <= maxDepth).map(([id]) => id));
}

/** Every job reachable from start, with its shortest distance. */
export function shortestDepths(start: string, next: ReadonlyMap<string, readonly string[]>): Map<string, number> {
  const found = new Map<string, number>();
  let frontier = [start];
  for (let depth = 1; frontier.length > 0; depth++) {
    const following: string[] = [];
    for (const id of frontier) {
      for (const neighbour of next.get(id) ?? []) {
        if (neighbour === start || found.has(neighbour)) continue;
        found.set(neighbour, depth);
        following.push(neighbour);
      }
    }
    frontier = following;
  }
  return found;
}

/** A lineage row without the depth a store may add. */
export function withoutDepth(row: LineageRow): Omit<LineageRow, 'depth'> {
  const { depth: _depth, ...rest } = row;
  return rest;
}

/** JSON that trips up stores: dotted, dollar, empty, escape-like and non-Latin keys, deep nesting, edge numbers. */
export function awkwardJson(): JsonObject {
  // A literal would set the prototype; JSON.parse makes "__proto__" an own key, as a decoded request does.
  const ownProto = JSON.parse('{"__proto__": {"polluted": true}}') as JsonObject;
  return {
    ...ownProto,
    '%24': 'looks like an escaped dollar',
    '100%': 'percent key',
    'nul\u0000key': 'nul\u0000value',
    'a.b': 'dotted key',
    $x: 'dollar key',
    '': 'empty key',
    'key with spaces': 'value',
    nested: { $in: [1, 2], 'c.d': { '': null }, $: { '.': '$' } },
    ключ: 'значение',
    键: '值 🧪',
    '🙂': ['emoji key'],
    text: 'line\nbreak\t"quoted" \\ back\u2028separator',
    list: [{ a: 1 }, { b: [true, false, null] }, [], {}, [[{ deep: [{ deeper: 'yes' }] }]]],
    nothing: null,
    yes: true,
    no: false,
    zero: 0,
    negative: -17,
    fraction: 0.1,
    inexact: 0.1 + 0.2,
    small: -1.5e-7,
    huge: 1e300,
    smallest: 5e-324,
    maxSafe: 2 ** 53,
    int64: 2 ** 62,
    int32Edge: 2 ** 31,
  };
}

export function everyFieldSet(overrides: Partial<JobRecord> = {}): JobRecord {
  const parentIds = [nextJobId('zz-parent'), nextJobId('aa-parent')];
  const output: JsonValue = { rows: [{ id: 1, score: 0.75 }], complete: true };
  return makeJob({
    parentIds,
    status: 'FAILED',
    cacheState: 'STALE',
    createdAt: new Date('2024-06-01T08:30:00.123Z'),
    startedAt: new Date('2024-06-01T08:30:00.456Z'),
    completedAt: new Date('2024-06-01T08:30:01.789Z'),
    updatedAt: new Date('2024-06-01T08:30:02.001Z'),
    durationMs: 0,
    result: { outputHash: outputHash(output), output, cached: true, cachedFromJobId: nextJobId('source') },
    error: { reason: 'DEPENDENCY_FAILED', message: 'parent failed', dependencyJobId: parentIds[0]! },
    attempt: 3,
    rerunOfJobId: nextJobId('former'),
    labels: { team: 'research', env: 'prod', note: '' },
    metadata: { notebook: 'analysis.ipynb', cells: [1, 2, 3], reviewed: { by: 'ana', ok: true } },
    tenant: 'acme',
    owner: 'ana@acme.test',
    readers: ['zoe@acme.test', 'bob@acme.test'],
    origin: 'SUBMITTED',
    payloadRedacted: true,
    cachePolicy: 'REFRESH',
    requestId: `req-${nextJobId()}`,
    ...overrides,
  });
}

export function noOptionalField(overrides: Partial<JobRecord> = {}): JobRecord {
  return makeJob({
    payload: {},
    status: 'QUEUED',
    labels: {},
    metadata: {},
    readers: [],
    parentIds: [],
    createdAt: new Date('2023-12-31T23:59:59.999Z'),
    updatedAt: new Date('2023-12-31T23:59:59.999Z'),
    ...overrides,
  });
}

/** The same items in an order fixed by the seed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = mulberry32(seed);
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}
