import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { canonicalJson, definitionHash, inputHash, outputHash, removeVolatileKeys } from '../../src/domain/hashing.js';
import type { SubmitJobCommand } from '../../src/domain/commands.js';
import { submissionFingerprint } from '../../src/domain/execution.js';
import type { JsonObject } from '../../src/domain/json.js';

interface Vectors {
  volatileKeys: string[];
  definition: Array<{ name: string; type: string; payloadJson: string; canonical: string; sha256: string }>;
  input: Array<{ name: string; definitionHash: string; parents: Array<{ jobId: string; outputHash: string | null }>; canonical: string; sha256: string }>;
  output: Array<{ name: string; outputJson: string; canonical: string; sha256: string }>;
}

// The expected canonical strings were written by hand from RFC 8785 and the hashes computed by Python's hashlib.
const vectors = JSON.parse(readFileSync(new URL('../../../test/fixtures/hash-vectors.json', import.meta.url), 'utf8')) as Vectors;
const volatileKeys = new Set(vectors.volatileKeys);

describe('hashing test vectors (docs/hashing.md)', () => {
  for (const vector of vectors.definition) {
    it(`definition: ${vector.name}`, () => {
      const payload = JSON.parse(vector.payloadJson) as JsonObject;
      expect(canonicalJson({ type: vector.type, payload: removeVolatileKeys(payload, volatileKeys) })).to.equal(vector.canonical);
      expect(definitionHash(vector.type, payload, volatileKeys)).to.equal(vector.sha256);
    });
  }
  for (const vector of vectors.input) {
    it(`input: ${vector.name}`, () => {
      expect(inputHash(vector.definitionHash, vector.parents)).to.equal(vector.sha256);
    });
  }
  for (const vector of vectors.output) {
    it(`output: ${vector.name}`, () => {
      expect(canonicalJson(JSON.parse(vector.outputJson))).to.equal(vector.canonical);
      expect(outputHash(JSON.parse(vector.outputJson))).to.equal(vector.sha256);
    });
  }
});

describe('definitionHash', () => {
  it('does not change the payload it hashes', () => {
    const payload = { a: 1, timestamp: 't', nested: { createdAt: 2 } };
    definitionHash('x', payload, volatileKeys);
    expect(payload).to.deep.equal({ a: 1, timestamp: 't', nested: { createdAt: 2 } });
  });

  it('differs when the type differs', () => {
    expect(definitionHash('a', {}, volatileKeys)).not.to.equal(definitionHash('b', {}, volatileKeys));
  });

  it('uses the configured volatile keys only', () => {
    const payload = { seed: 1, runAt: 'monday' };
    expect(definitionHash('x', payload, new Set(['runAt']))).to.equal(definitionHash('x', { seed: 1 }, new Set()));
    expect(definitionHash('x', payload, volatileKeys)).not.to.equal(definitionHash('x', { seed: 1 }, volatileKeys));
  });
});

describe('submissionFingerprint', () => {
  const command: SubmitJobCommand = {
    type: 'echo',
    payload: { text: 'hé ✓', n: -0, list: [1, 2.5, null, { b: true, a: 'x' }], nested: { z: {}, y: [] } },
    provider: { id: 'p', model: 'm', version: '1' },
    parentIds: ['b', 'a'],
    labels: { team: 'x' },
    metadata: { note: 'm' },
    readers: ['lab/bob'],
    requestId: 'req-1',
    cachePolicy: 'USE',
  };

  it('keeps the values stored fingerprints were made with (retries of stored requests must match), undefined members left out', () => {
    // Computed by the first implementation, which copied the submission through JSON.stringify / JSON.parse first.
    expect(submissionFingerprint({ command: { ...command, jobId: undefined }, cachePolicy: 'USE' })).to.equal(
      'c61a2713e51e6258e35df3ee8e7988889e1232f4dfc70d4a0015b2ba9deb93a4',
    );
    expect(submissionFingerprint({ command: { ...command, requestId: undefined }, cachePolicy: 'BYPASS', rerunOfJobId: 'orig' })).to.equal(
      '229d477b11b46c062874756d50680e068345c52901c4a4cdefccdb40ca195883',
    );
  });
});
