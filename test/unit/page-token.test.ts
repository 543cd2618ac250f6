import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { decodePageToken, encodePageToken } from '../../src/domain/page-token.js';
import { ProvenanceError } from '../../src/domain/errors.js';
import { canonicalJson } from '../../src/domain/hashing.js';
import type { JsonObject } from '../../src/domain/json.js';

const secret = randomBytes(32);
const query = { method: 'ListDependents', jobId: 'root', tenant: 'acme', subject: 'olga' };

/** A token as the service sealed them before their plaintext was padded: the same key, cipher and layout. */
function unpaddedToken(position: object): string {
  const key = createHash('sha256').update('page-token\0').update(secret).digest();
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const fingerprint = createHash('sha256').update(canonicalJson(query)).digest('hex').slice(0, 16);
  const body = Buffer.concat([cipher.update(JSON.stringify({ q: fingerprint, p: position }), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

describe('page tokens', () => {
  it('have one length whatever the ids and numbers of their position, up to a job id of 128 characters', () => {
    const positions: JsonObject[] = [
      { depth: 1, jobId: 'len-a' },
      { depth: 1, jobId: 'x'.repeat(128), snapshot: randomBytes(12).toString('base64url') },
      { depth: 100, relation: 'DESCENDANT', jobId: 'x'.repeat(128) },
      { depth: 0, relation: 'ROOT', jobId: 'r' },
      { createdAt: Date.now(), jobId: 'y'.repeat(128) },
      { time: Date.now(), id: '9223372036854775807' },
    ];
    const lengths = positions.map((position) => encodePageToken(query, position, secret).length);
    expect(new Set(lengths).size).to.equal(1, `lengths ${lengths.join(', ')}`);
  });

  it('give back the position they carry, and refuse another query', () => {
    const position = { depth: 2, jobId: 'x'.repeat(128) };
    const token = encodePageToken(query, position, secret);
    expect(decodePageToken(token, query, secret)).to.deep.equal(position);
    expect(() => decodePageToken(token, { ...query, jobId: 'other' }, secret)).to.throw(ProvenanceError).with.property('code', 'INVALID_ARGUMENT');
  });

  it('accept a token sealed before the padding', () => {
    const position = { depth: 1, jobId: 'len-a' };
    expect(decodePageToken(unpaddedToken(position), query, secret)).to.deep.equal(position);
  });
});
