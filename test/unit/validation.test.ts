import { expect } from 'chai';
import type { RecordJobCommand } from '../../src/domain/commands.js';
import { validateRecordJob, type ServiceLimits } from '../../src/domain/validation.js';
import { recordJobCommand } from '../support/job-records.js';

const limits: ServiceLimits = { maxLineageDepth: 10, maxLineageNodes: 10, batchSize: 10, maxPayloadBytes: 1000, volatileKeys: new Set(), isSecretKey: () => false };

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
});
