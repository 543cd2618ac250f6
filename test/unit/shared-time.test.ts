import { expect } from 'chai';
import { encodeRecord } from '../../src/adapters/sqlite/record-json.js';
import { eventJson, withLifecycleEvents } from '../../src/domain/job-events.js';
import { sharedTime } from '../../src/domain/shared-time.js';
import { makeJob } from '../support/job-records.js';

describe('sharedTime', () => {
  const date = new Date(Date.UTC(2025, 3, 4, 5, 6, 7, 890));

  it('is a Date of the same time, whose JSON is the date\'s', () => {
    const shared = sharedTime(date);
    expect(shared).to.be.instanceOf(Date);
    expect(shared.getTime()).to.equal(date.getTime());
    expect(shared).to.not.equal(date);
    expect(JSON.stringify({ at: shared })).to.equal(JSON.stringify({ at: date }));
    expect(Object.keys(shared)).to.deep.equal([]);
  });

  it('leaves a record\'s document and its events\' JSON as the date would', () => {
    const of = (now: Date) =>
      withLifecycleEvents(undefined, makeJob({ jobId: 'shared-time', etag: 'e', status: 'SUCCEEDED', createdAt: now, updatedAt: now, completedAt: now }), now);
    const [plain, shared] = [of(date), of(sharedTime(date))];
    expect(encodeRecord(shared)).to.equal(encodeRecord(plain));
    expect(shared.pendingEvents!.map(eventJson)).to.deep.equal(plain.pendingEvents!.map(eventJson));
  });
});
