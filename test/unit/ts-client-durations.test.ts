import { expect } from 'chai';
import { durationMs } from '@provenance/client';

describe('durationMs, a google.protobuf.Duration in milliseconds', () => {
  it('adds the seconds and the whole milliseconds of the nanos, and keeps an absent field absent', () => {
    expect(durationMs({ seconds: '1', nanos: 500_000_000 })).to.equal(1500);
    expect(durationMs({ seconds: '0', nanos: 999_999 })).to.equal(0);
    expect(durationMs({ seconds: '-2', nanos: -250_000_000 })).to.equal(-2250);
    expect(durationMs({ seconds: '86400', nanos: 0 })).to.equal(86_400_000);
    expect(durationMs(undefined)).to.equal(undefined);
  });
});
