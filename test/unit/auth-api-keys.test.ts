import { expect } from 'chai';
import { ApiKeyVerifier, parseApiKeys } from '../../src/auth/api-keys.js';
import { AuthenticationFailed } from '../../src/auth/authentication-failed.js';
import { makeApiKey, sha256Hex } from '../support/credentials.js';

function parseError(document: unknown): string {
  try {
    parseApiKeys(typeof document === 'string' ? document : JSON.stringify(document));
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the API keys file to be refused');
}

describe('API keys', () => {
  const ciKey = makeApiKey();
  const adminKey = makeApiKey();
  const entries = [
    { id: 'ci', sha256: sha256Hex(ciKey), subject: 'ci-bot', tenant: 'acme', roles: ['submitter'] },
    { id: 'ops', sha256: sha256Hex(adminKey).toUpperCase(), subject: 'ops', tenant: 'globex', roles: ['admin', 'submitter', 'admin'] },
  ];

  describe('verification', () => {
    const verifier = new ApiKeyVerifier(parseApiKeys(JSON.stringify(entries)));

    it('identifies the principal of a known key', () => {
      expect(verifier.verify(ciKey)).to.deep.equal({ subject: 'ci-bot', tenant: 'acme', roles: ['submitter'] });
      // The file may give the hash in uppercase; repeated roles count once.
      expect(verifier.verify(adminKey)).to.deep.equal({ subject: 'ops', tenant: 'globex', roles: ['admin', 'submitter'] });
    });

    it('refuses an unknown key, a key one character off, a key in another case and an empty key', () => {
      const differentLastCharacter = `${ciKey.slice(0, -1)}${ciKey.endsWith('A') ? 'B' : 'A'}`;
      for (const key of [makeApiKey(), differentLastCharacter, ciKey.toUpperCase(), sha256Hex(ciKey), '']) {
        expect(() => verifier.verify(key)).to.throw(AuthenticationFailed);
      }
    });
  });

  describe('the file', () => {
    it('is a JSON array of at least one entry', () => {
      expect(parseError('{not json')).to.match(/^is not valid JSON/);
      expect(parseError({ id: 'ci' })).to.equal('must be a JSON array of at least one key entry');
      expect(parseError([])).to.equal('must be a JSON array of at least one key entry');
      expect(parseError([entries[0], 'key'])).to.equal('entry 1: must be an object');
    });

    it('names the entry and the field of each problem', () => {
      const entry = entries[0]!;
      expect(parseError([{ ...entry, id: '' }])).to.equal('entry 0: "id" must be a non-empty string');
      expect(parseError([entry, { ...entries[1], id: 'ci' }])).to.equal('entry 1 ("ci"): id "ci" is used by an earlier entry');
      expect(parseError([{ ...entry, sha256: 'abc123' }])).to.equal('entry 0 ("ci"): "sha256" must be the SHA-256 of the key as 64 hex digits');
      expect(parseError([{ ...entry, sha256: 'z'.repeat(64) }])).to.match(/^entry 0 \("ci"\): "sha256" must be/);
      expect(parseError([entry, { ...entries[1], sha256: entry.sha256 }])).to.equal('entry 1 ("ops"): "sha256" is the same as an earlier entry\'s (the same key twice)');
      expect(parseError([{ ...entry, subject: ' ' }])).to.equal('entry 0 ("ci"): "subject" must be a non-empty string');
      const { tenant: _tenant, ...withoutTenant } = entry;
      expect(parseError([withoutTenant])).to.equal('entry 0 ("ci"): "tenant" must be a non-empty string');
      for (const roles of [[], ['owner'], 'admin', undefined]) {
        expect(parseError([{ ...entry, roles }])).to.equal('entry 0 ("ci"): "roles" must be a non-empty array of reader, submitter, admin, operator');
      }
    });

    it('refuses any other field, such as the key itself', () => {
      expect(parseError([{ ...entries[0], key: ciKey }])).to.match(/^entry 0 \("ci"\): unknown field "key"/);
    });
  });
});
