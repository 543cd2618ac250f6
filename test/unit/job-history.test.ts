import { expect } from 'chai';
import { decodeJobState, encodeJobState, recordAsOf, stateAt, stateOf } from '../../src/domain/job-history.js';
import type { JobRecord } from '../../src/domain/job.js';
import { makeJob } from '../support/job-records.js';

/** The states of domain/job-history.ts: what a state keeps, and the record it gives back. */
describe('job history states', () => {
  const queued = makeJob({ status: 'QUEUED', readers: ['tenant:then'] });
  const succeeded: JobRecord = {
    ...queued,
    status: 'SUCCEEDED',
    cacheState: 'FRESH',
    result: { outputHash: 'h', output: { rows: 3 }, cached: true, cachedFromJobId: 'earlier' },
    startedAt: new Date(queued.createdAt.getTime() + 1),
    completedAt: new Date(queued.createdAt.getTime() + 2),
    durationMs: 1,
    updatedAt: new Date(queued.createdAt.getTime() + 2),
    readers: ['tenant:now'],
    etag: 'done',
    eventSeq: 2,
    pendingEvents: [],
  };

  it('keeps neither the output, nor the readers, nor what the job is; the record of a state takes them from the current one', () => {
    const state = stateOf(succeeded);
    expect(state).to.not.have.any.keys('payload', 'readers', 'parentIds', 'tenant', 'pendingEvents');
    expect(state.result).to.deep.equal({ outputHash: 'h', cached: true, cachedFromJobId: 'earlier' });
    const { pendingEvents: _outbox, ...withoutOutbox } = succeeded;
    expect(recordAsOf(succeeded, state)).to.deep.equal(withoutOutbox);
    // An earlier state leaves out what it did not have, and keeps the current readers.
    const then = recordAsOf(succeeded, stateOf(queued));
    expect(then).to.deep.equal({ ...queued, readers: ['tenant:now'] });
  });

  it('gives a result of another output hash without an output', () => {
    const other = { ...stateOf(succeeded), result: { outputHash: 'other', cached: false } };
    expect(recordAsOf(succeeded, other).result).to.deep.equal({ outputHash: 'other', cached: false });
  });

  it('survives its JSON text, dates included', () => {
    expect(decodeJobState(encodeJobState(stateOf(succeeded)))).to.deep.equal(stateOf(succeeded));
  });

  it('answers the latest entry at or before a time, the later written of one time, and none before the first', () => {
    const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
    const entries = [
      { at: at(0), state: stateOf(queued) },
      { at: at(10), state: stateOf({ ...queued, etag: 'first of 10' }) },
      { at: at(10), state: stateOf({ ...queued, etag: 'second of 10' }) },
      { at: at(20), state: stateOf(succeeded) },
    ];
    expect(stateAt(entries, at(-1))).to.equal(undefined);
    expect(stateAt(entries, at(9))?.etag).to.equal(queued.etag);
    expect(stateAt(entries, at(10))?.etag).to.equal('second of 10');
    expect(stateAt(entries, at(1000))?.etag).to.equal('done');
  });
});
