import { expect } from 'chai';
import type { RecordJobCommand } from '../../src/domain/commands.js';
import { validateBatch, validateRecordJob, validateSubmitJob, type ServiceLimits } from '../../src/domain/validation.js';
import { recordJobCommand } from '../support/job-records.js';

const limits: ServiceLimits = {
  maxLineageDepth: 10,
  maxLineageNodes: 10,
  maxStreamLineageNodes: 10,
  batchSize: 1000,
  maxParents: 1000,
  maxBatchParents: 10_000,
  maxPayloadBytes: 1000,
  volatileKeys: new Set(),
  isSecretKey: () => false,
};

const fields = (overrides: Partial<RecordJobCommand>) => validateRecordJob(recordJobCommand(overrides), limits).map((v) => v.field);

describe('validateRecordJob', () => {
  it('accepts a minimal succeeded record', () => {
    expect(fields({})).to.deep.equal([]);
  });

  it('refuses JSON that no store keeps alike: non-finite numbers and deep nesting', () => {
    expect(fields({ payload: { a: [1, Number.NaN] } })).to.deep.equal(['payload.a[1]']);
    // {} is one level; 63 wrappers make 64, the most allowed.
    let deep: RecordJobCommand['payload'] = {};
    for (let level = 0; level < 63; level++) deep = { d: deep };
    expect(fields({ payload: deep })).to.deep.equal([]);
    expect(fields({ payload: { d: deep } })).to.deep.equal(['payload']);
  });

  it('refuses a job id a placeholder could have, in RecordJob and SubmitJob', () => {
    expect(validateRecordJob(recordJobCommand({ jobId: 'restricted-0ce2a5455df53a091c12553faf559fac' }), limits)).to.deep.equal([
      { field: 'job_id', description: 'must not start with "restricted-": the ids of jobs a caller may not read are shown so' },
    ]);
    const submit = { jobId: 'restricted-x', type: 'echo', payload: {}, provider: { id: '', model: '', version: '' }, parentIds: [], labels: {}, metadata: {}, readers: [] };
    expect(validateSubmitJob(submit, limits).map((v) => v.field)).to.deep.equal(['job_id']);
    expect(fields({ jobId: 'restricted' })).to.deep.equal([]);
    // Nor may a record name one, as a parent or as the job its error came from.
    expect(fields({ parentIds: ['a', 'restricted-0ce2a5455df53a091c12553faf559fac'], allowMissingParents: true })).to.deep.equal(['parent_job_ids[1]']);
    expect(fields({ status: 'FAILED', outputHash: undefined, error: { reason: 'DEPENDENCY_FAILED', message: 'x', dependencyJobId: 'restricted-1' } })).to.deep.equal(['error.dependency_job_id']);
  });

  it('ties outcome fields to the status', () => {
    expect(fields({ status: 'RUNNING', outputHash: undefined, completedAt: new Date() })).to.deep.equal(['complete_time']);
    expect(fields({ status: 'FAILED', outputHash: undefined, error: { reason: 'X', message: 'm' } })).to.deep.equal([]);
    expect(fields({ error: { reason: 'X', message: 'm' } })).to.deep.equal(['error']);
    expect(fields({ status: 'INVALID' })).to.deep.equal(['status']);
    expect(fields({ startedAt: new Date(Number.NaN) })).to.deep.equal(['start_time']);
  });

  it('checks every parent id and refuses duplicates', () => {
    expect(fields({ parentIds: ['a', 'b$', 'a'] })).to.deep.equal(['parent_job_ids[1]', 'parent_job_ids[2]']);
  });

  it('reports the first bad parent id and the first duplicate once each, with how many there are', () => {
    const duplicates = validateRecordJob(recordJobCommand({ parentIds: ['p', ...new Array<string>(997).fill('d'), '$', '$'] }), limits);
    expect(duplicates).to.deep.equal([
      { field: 'parent_job_ids[998]', description: "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit (2 bad parent ids in all; the first is reported)" },
      { field: 'parent_job_ids[2]', description: 'duplicate of parent_job_ids[1] (d); parents must be distinct (996 duplicates in all; the first is reported)' },
    ]);
  });

  it('names a bad label once, and cuts a field path that would echo a long key', () => {
    const violations = validateRecordJob(recordJobCommand({ labels: { ['K'.repeat(1000)]: 'v'.repeat(64), ok: 'v' } }), limits);
    expect(violations).to.deep.equal([
      {
        field: `labels[${'K'.repeat(248)}…`,
        description: "key must be 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter; value must be at most 63 characters",
      },
    ]);
    expect(violations[0]!.field).to.have.length(256);
  });

  it('refuses too many parents, labels or readers with one violation each', () => {
    const tooMany = validateRecordJob(
      recordJobCommand({
        parentIds: new Array<string>(1001).fill('$'),
        labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`BAD ${i}`, 'v'])),
        readers: new Array<string>(101).fill(''),
      }),
      limits,
    );
    expect(tooMany).to.deep.equal([
      { field: 'parent_job_ids', description: 'at most 1000 parents (PROVENANCE_MAX_PARENTS); got 1001' },
      { field: 'labels', description: 'at most 64 labels' },
      { field: 'reader_subjects', description: 'at most 100 subjects' },
    ]);
  });
});

/** Parent id arrays that count how many of their ids were read. */
function countingParents(ids: string[], reads: { count: number }): string[] {
  return new Proxy(ids, {
    get(target, property, receiver) {
      if (typeof property === 'string' && /^\d+$/.test(property)) reads.count++;
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

/**
 * Issue #12: 1,000 records of 1,000 duplicate parents each held the event
 * loop for seconds, with a violation per parent. Work is counted here, not
 * timed: refusing reads no parent id at all, or each one once.
 */
describe('the cost of refusing', () => {
  it('refuses a batch over PROVENANCE_MAX_BATCH_PARENTS without reading a parent id', () => {
    const reads = { count: 0 };
    const batch = Array.from({ length: 1000 }, () => recordJobCommand({ parentIds: countingParents(new Array<string>(1000).fill('same'), reads) }));
    expect(validateBatch(batch, limits)).to.deep.equal([
      { field: 'requests', description: 'at most 10000 parents in all the records of a batch (PROVENANCE_MAX_BATCH_PARENTS); got 1000000' },
    ]);
    expect(reads.count).to.equal(0);
    expect(validateBatch(batch.slice(0, 10), limits)).to.deep.equal([]);
    expect(validateBatch(new Array(1001).fill(recordJobCommand({})), limits)).to.deep.equal([
      { field: 'requests', description: 'at most 1000 records per batch (PROVENANCE_BATCH_SIZE); got 1001' },
    ]);
  });

  it('refuses a record over PROVENANCE_MAX_PARENTS without reading a parent id, and reads each parent of any other once', () => {
    const reads = { count: 0 };
    expect(validateRecordJob(recordJobCommand({ parentIds: countingParents(new Array<string>(5000).fill('same'), reads) }), limits)).to.have.length(1);
    expect(reads.count).to.equal(0);
    const duplicates = validateRecordJob(recordJobCommand({ parentIds: countingParents(new Array<string>(1000).fill('same'), reads) }), limits);
    expect(duplicates).to.have.length(1);
    expect(reads.count).to.equal(1000);
  });
});
