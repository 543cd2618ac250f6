import { expect } from 'chai';
import { ProvenanceError, writeAnswerTooLarge } from '../../../src/domain/errors.js';
import type { JobRecord } from '../../../src/domain/job.js';
import type { JobView } from '../../../src/domain/job-view.js';
import { recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';
import { rejection } from '../../support/waits.js';

const alice = principal('lab', 'alice');

/**
 * A record whose write lost a race is decided again against the winner's
 * record, and the answer is checked again before that second write: the
 * winner's record may make it larger than the first check saw (here, labels
 * the check refuses stand for an answer over the send limit).
 */
describe('use cases: the answer of a record decided again after a lost race', () => {
  let s: MemoryService;
  beforeEach(() => {
    s = memoryService();
    // Another request records "raced" (RUNNING, with the labels) just before this one's insert.
    const insertJobs = s.store.insertJobs.bind(s.store);
    let raced = false;
    s.store.insertJobs = async (records: readonly JobRecord[]) => {
      if (!raced && records.some((record) => record.jobId === 'raced')) {
        raced = true;
        await s.service.recordJob(alice, recordJobCommand({ jobId: 'raced', status: 'RUNNING', outputHash: undefined, labels: { huge: 'yes' } }));
      }
      return insertJobs(records);
    };
  });
  afterEach(() => s.close());

  const check = (jobs: readonly JobView[]) => {
    if (jobs.some((job) => job.labels.huge)) throw writeAnswerTooLarge(2, 1);
  };

  it('refuses a lone record whose answer would not fit once decided again, writing nothing more', async () => {
    const error = await rejection(s.service.recordJob(alice, recordJobCommand({ jobId: 'raced' }), check));
    expect(error).to.be.instanceOf(ProvenanceError);
    expect((error as ProvenanceError).reason).to.equal('ANSWER_TOO_LARGE');
    expect((await s.store.getJobs(['raced']))[0]).to.include({ status: 'RUNNING' });
  });

  it("answers CONCURRENT_WRITE for such records of a batch, whose other records stand", async () => {
    const outcomes = await s.service.batchRecordJobs(alice, [recordJobCommand({ jobId: 'raced' }), recordJobCommand({ jobId: 'standing' })], check);
    expect(outcomes.map((outcome) => (outcome.ok ? outcome.job.jobId : outcome.error.reason))).to.deep.equal(['CONCURRENT_WRITE', 'standing']);
    expect((await s.store.getJobs(['raced']))[0]).to.include({ status: 'RUNNING' });
    expect((await s.store.getJobs(['standing']))[0]).to.include({ status: 'SUCCEEDED' });
  });

  it('writes the record decided again when its answer fits', async () => {
    const job = await s.service.recordJob(alice, recordJobCommand({ jobId: 'raced' }), () => {});
    expect(job).to.include({ status: 'SUCCEEDED' });
    expect(job.labels).to.deep.equal({ huge: 'yes' });
  });
});
