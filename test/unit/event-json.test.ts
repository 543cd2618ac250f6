import { expect } from 'chai';
import { eventJson, withEvents, withLifecycleEvents } from '../../src/domain/job-events.js';
import { makeJob } from '../support/job-records.js';

describe('eventJson', () => {
  const now = new Date(Date.UTC(2025, 3, 4, 5, 6, 7, 890));

  it('is the JSON of each event, for the events one write adds together and for one added alone', () => {
    const record = withLifecycleEvents(undefined, makeJob({ status: 'SUCCEEDED', labels: { team: 'a"b' }, readers: ['ana'] }), now);
    const invalidated = withEvents(record, ['cache.invalidated'], now, { invalidatedJobIds: [record.jobId, 'child'] });
    const failed = withEvents(makeJob({ status: 'FAILED' }), ['compute.job.failed', 'job.provenance.completed'], now, {
      error: { reason: 'R', message: 'line\nbreak' },
    });
    const events = [...invalidated.pendingEvents!, ...failed.pendingEvents!];
    expect(events.map((event) => event.seq)).to.deep.equal([1, 2, 3, 4, 1, 2]);
    for (const event of events) expect(eventJson(event), `${event.jobId} ${event.seq}`).to.equal(JSON.stringify(event));
  });
});
