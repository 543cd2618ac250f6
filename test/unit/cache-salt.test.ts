import { expect } from 'chai';
import { cacheKeySalt, isValidCacheSalt, MAX_CACHE_SALT_LENGTH } from '../../src/domain/cache-salt.js';
import { DEFAULT_VOLATILE_KEYS } from '../../src/domain/hashing.js';
import { checkReproducibility } from '../support/reproducibility-report.js';
import { makeJob } from '../support/job-records.js';

describe('cache salts (issue #16 item 5)', () => {
  it('gives records without salts the empty key, and every pair of salts a key of its own', () => {
    expect(cacheKeySalt({})).to.equal('');
    const keys = [{ cacheSalt: 'a' }, { tenantCacheSalt: 'a' }, { tenantCacheSalt: 'a', cacheSalt: 'b' }, { tenantCacheSalt: 'b', cacheSalt: 'a' }, { tenantCacheSalt: 'a,b' }].map(cacheKeySalt);
    expect(new Set(keys).size).to.equal(keys.length);
    expect(keys).not.to.include('');
  });

  it('takes 1 to 128 printable ASCII characters without spaces', () => {
    expect(isValidCacheSalt('2026-12-05/"poisoned"')).to.equal(true);
    expect(isValidCacheSalt('x'.repeat(MAX_CACHE_SALT_LENGTH))).to.equal(true);
    for (const bad of ['', 'x'.repeat(MAX_CACHE_SALT_LENGTH + 1), 'a b', 'tab\t', 'é', '\u0000']) expect(isValidCacheSalt(bad), JSON.stringify(bad)).to.equal(false);
  });

  it("reports CACHE_SALT_MISMATCH for the job and each ancestor whose result was made under another tenant salt than the tenant's now", () => {
    const parent = makeJob({ tenant: 'lab', tenantCacheSalt: 'old' });
    const job = makeJob({ tenant: 'lab', parentIds: [parent.jobId], inputHash: '' });
    const check = (saltNow: string | undefined) =>
      checkReproducibility({
        job,
        ancestors: [parent],
        known: new Map([[parent.jobId, parent]]),
        ancestryTruncated: false,
        volatileKeys: new Set(DEFAULT_VOLATILE_KEYS),
        hasHandler: () => true,
        tenantCacheSalt: () => saltNow,
        viewer: { mayRead: () => true, placeholder: (id) => id },
      })
        .filter((issue) => issue.reason === 'CACHE_SALT_MISMATCH')
        .map((issue) => issue.jobId);
    expect(check('old')).to.deep.equal([job.jobId]);
    expect(check(undefined)).to.deep.equal([parent.jobId]);
    expect(check('new')).to.deep.equal([job.jobId, parent.jobId]);
  });
});
