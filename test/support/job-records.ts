import { randomBytes, randomUUID } from 'node:crypto';
import { canonicalJson, DEFAULT_VOLATILE_KEYS, definitionHash, inputHash, outputHash, sha256Hex } from '../../src/domain/hashing.js';
import type { RecordJobCommand, SubmitJobCommand } from '../../src/domain/commands.js';
import { cacheStateFor, type JobRecord, type JobStatus } from '../../src/domain/job.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';

/**
 * Valid, realistic provenance records for tests and benchmarks. Hashes are
 * computed with the domain's own functions, so records built here are what
 * the service itself would write.
 */

const VOLATILE_KEYS: ReadonlySet<string> = new Set(DEFAULT_VOLATILE_KEYS);

/** Distinguishes the ids of one process from those of another run against the same database. */
const RUN_TAG = randomBytes(3).toString('hex');
let sequence = 0;

/** A readable job id, unique in this process; ids made later sort later. */
export function nextJobId(prefix = 'job'): string {
  return `${prefix}-${RUN_TAG}-${String(++sequence).padStart(6, '0')}`;
}

export function freshEtag(): string {
  return randomUUID();
}

export interface MakeJobContext {
  /** Output hashes of parents, for the input hash; parents not listed count as having none (null). */
  parentOutputHashes?: ReadonlyMap<string, string>;
}

/**
 * A valid record: SUCCEEDED with a result unless overridden. Hashes, cache
 * state and lifecycle times follow the overridden type, payload, parents and
 * status. An override set to undefined removes that optional field.
 */
export function makeJob(overrides: Partial<JobRecord> = {}, context: MakeJobContext = {}): JobRecord {
  const jobId = overrides.jobId ?? nextJobId();
  const createdAt = overrides.createdAt ?? new Date();
  const type = overrides.type ?? 'text.summarize';
  const payload: JsonObject = overrides.payload ?? {
    document: `s3://corpus/${jobId}.txt`,
    maxWords: 120,
    language: 'en',
    requestedAt: createdAt.toISOString(),
  };
  const parentIds = overrides.parentIds ?? [];
  const status = overrides.status ?? 'SUCCEEDED';
  const definition = definitionHash(type, payload, VOLATILE_KEYS);
  const parents = parentIds.map((id) => ({ jobId: id, outputHash: context.parentOutputHashes?.get(id) ?? null }));

  const record: JobRecord = {
    jobId,
    type,
    payload,
    definitionHash: definition,
    inputHash: inputHash(definition, parents),
    provider: { id: 'acme-ml', model: 'summarizer-small', version: '2024.06.1' },
    parentIds,
    status,
    cacheState: cacheStateFor(status),
    createdAt,
    updatedAt: createdAt,
    attempt: 1,
    labels: { team: 'research' },
    metadata: { source: 'conformance' },
    tenant: 'default',
    owner: 'tester',
    readers: [],
    etag: freshEtag(),
    origin: 'RECORDED',
    payloadRedacted: false,
    requestHash: sha256Hex(canonicalJson({ type, payload, parentIds })),
    ...lifecycle(status, createdAt, jobId),
  };
  return withoutUndefined({ ...record, ...overrides });
}

/** Times, result and error that a job in that status has. */
function lifecycle(status: JobStatus, createdAt: Date, jobId: string): Partial<JobRecord> {
  const startedAt = new Date(createdAt.getTime() + 7);
  const durationMs = 250 + (sequence % 97);
  const completedAt = new Date(startedAt.getTime() + durationMs);
  switch (status) {
    case 'QUEUED':
    case 'WAITING':
      return {};
    case 'RUNNING':
      return { startedAt, updatedAt: startedAt };
    case 'SUCCEEDED': {
      const output: JsonValue = { summary: `summary of ${jobId}`, words: 42, truncated: false };
      return {
        startedAt,
        completedAt,
        updatedAt: completedAt,
        durationMs,
        result: { outputHash: outputHash(output), output, cached: false },
      };
    }
    case 'FAILED':
      return {
        startedAt,
        completedAt,
        updatedAt: completedAt,
        durationMs,
        error: { reason: 'HANDLER_FAILED', message: `summarizer exited with status 1 on ${jobId}` },
      };
    case 'CANCELLED':
      return { completedAt: startedAt, updatedAt: startedAt };
  }
}

function withoutUndefined(record: JobRecord): JobRecord {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value !== undefined) kept[key] = value;
  }
  return kept as unknown as JobRecord;
}

/** mulberry32: a small seeded PRNG giving floats in [0, 1); the same seed gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomDagOptions {
  /** Each record after the first has 1..maxParents distinct parents. */
  maxParents: number;
  /** Parents are chosen among this many records just before. */
  window: number;
  /** Extra fields for the record at that index (tenant, labels...); parentIds is not overridable. */
  customize?: (index: number) => Partial<JobRecord>;
}

const DAG_TYPES = ['dataset.ingest', 'text.embed', 'text.summarize', 'report.render'];

/**
 * n SUCCEEDED records in topological order (parents before children), one
 * second apart. The graph's shape depends only on n, seed and the options;
 * input hashes use the parents' real output hashes.
 */
export function randomDag(n: number, seed: number, options: RandomDagOptions): JobRecord[] {
  const random = mulberry32(seed);
  const start = Date.now() - n * 1000;
  const records: JobRecord[] = [];
  const outputHashes = new Map<string, string>();
  for (let index = 0; index < n; index++) {
    const parentIds = index === 0 ? [] : pickParents(records, index, options, random);
    const type = DAG_TYPES[Math.floor(random() * DAG_TYPES.length)]!;
    const record = makeJob(
      {
        type,
        payload: { step: index, seed, params: { k: Math.floor(random() * 10) } },
        createdAt: new Date(start + index * 1000),
        ...options.customize?.(index),
        parentIds,
      },
      { parentOutputHashes: outputHashes },
    );
    if (record.result) outputHashes.set(record.jobId, record.result.outputHash);
    records.push(record);
  }
  return records;
}

function pickParents(records: readonly JobRecord[], index: number, options: RandomDagOptions, random: () => number): string[] {
  const from = Math.max(0, index - options.window);
  const available = index - from;
  const count = Math.min(available, 1 + Math.floor(random() * options.maxParents));
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(from + Math.floor(random() * available));
  return [...chosen].map((i) => records[i]!.jobId);
}

/** A minimal valid SubmitJob request for jobId (an "echo" job of payload { text: jobId }, no parents), with overrides. */
export function submitJobCommand(jobId: string, overrides: Partial<SubmitJobCommand> = {}): SubmitJobCommand {
  return {
    jobId,
    type: 'echo',
    payload: { text: jobId },
    provider: { id: '', model: '', version: '' },
    parentIds: [],
    labels: {},
    metadata: {},
    readers: [],
    ...overrides,
  };
}

/** A minimal valid RecordJob request (a SUCCEEDED "train" job with an output hash), with overrides. */
export function recordJobCommand(overrides: Partial<RecordJobCommand> = {}): RecordJobCommand {
  return {
    type: 'train',
    payload: {},
    provider: { id: '', model: '', version: '' },
    parentIds: [],
    status: 'SUCCEEDED',
    outputHash: 'h',
    labels: {},
    metadata: {},
    allowMissingParents: false,
    readers: [],
    attempt: 0,
    ...overrides,
  };
}
