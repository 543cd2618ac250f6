import { expect } from 'chai';
import { DEFAULT_REDACT_KEYS, REDACTED, redact } from '../../src/domain/redaction.js';

const keys = new Set(DEFAULT_REDACT_KEYS.map((k) => k.toLowerCase()));

describe('redact', () => {
  it('replaces secret keys at any depth, inside arrays, whatever their case, and says so', () => {
    const { value, redacted } = redact(
      { query: 'q', Password: 'p', nested: { deeper: [{ APIKEY: 'k', keep: 1 }, { token: { any: 'shape' } }] }, Authorization: null },
      keys,
    );
    expect(redacted).to.equal(true);
    expect(value).to.deep.equal({
      query: 'q',
      Password: REDACTED,
      nested: { deeper: [{ APIKEY: REDACTED, keep: 1 }, { token: REDACTED }] },
      Authorization: REDACTED,
    });
  });

  it('leaves a payload without secrets as it is, and the input untouched', () => {
    const input = { a: { b: [1, { tokens: 2 }] } };
    expect(redact(input, keys)).to.deep.equal({ value: input, redacted: false });
    const secret = { secret: 's' };
    redact(secret, keys);
    expect(secret).to.deep.equal({ secret: 's' });
  });
});
