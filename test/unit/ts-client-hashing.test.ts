import { readFileSync } from 'node:fs';
import { canonicalJson, definitionHash, DEFAULT_VOLATILE_KEYS, inputHash, outputHash, removeVolatileKeys, type JsonObject, type JsonValue } from '@provenance/client';
import { expect } from 'chai';

interface Vectors {
  volatileKeys: string[];
  definition: Array<{ name: string; type: string; payloadJson: string; canonical: string; sha256: string }>;
  input: Array<{ name: string; definitionHash: string; parents: Array<{ jobId: string; outputHash: string | null }>; canonical: string; sha256: string }>;
  output: Array<{ name: string; outputJson: string; canonical: string; sha256: string }>;
}

// The canonical strings were written by hand from RFC 8785, the hashes computed by Python's hashlib.
const vectors = JSON.parse(readFileSync(new URL('../../../test/fixtures/hash-vectors.json', import.meta.url), 'utf8')) as Vectors;

describe('@provenance/client hashing, against the test vectors (docs/hashing.md)', () => {
  it('has the default volatile keys of the vectors', () => {
    expect([...DEFAULT_VOLATILE_KEYS]).to.deep.equal(vectors.volatileKeys);
  });

  for (const vector of vectors.definition) {
    it(`definition: ${vector.name}`, () => {
      const payload = JSON.parse(vector.payloadJson) as JsonObject;
      expect(canonicalJson({ type: vector.type, payload: removeVolatileKeys(payload, vectors.volatileKeys) })).to.equal(vector.canonical);
      expect(definitionHash(vector.type, payload, vectors.volatileKeys)).to.equal(vector.sha256);
      expect(definitionHash(vector.type, payload), 'with the default volatile keys').to.equal(vector.sha256);
    });
  }

  for (const vector of vectors.input) {
    it(`input: ${vector.name}`, () => {
      expect(inputHash(vector.definitionHash, vector.parents)).to.equal(vector.sha256);
    });
  }

  for (const vector of vectors.output) {
    it(`output: ${vector.name}`, () => {
      const output = JSON.parse(vector.outputJson) as JsonValue;
      expect(canonicalJson(output)).to.equal(vector.canonical);
      expect(outputHash(output)).to.equal(vector.sha256);
    });
  }

  it('leaves the payload it hashes as it was', () => {
    const payload = { a: 1, timestamp: 't', nested: [{ createdAt: 2, b: 3 }] };
    definitionHash('x', payload);
    expect(payload).to.deep.equal({ a: 1, timestamp: 't', nested: [{ createdAt: 2, b: 3 }] });
  });

  it('uses the volatile keys it is given instead of the defaults', () => {
    const payload = { seed: 1, runAt: 'monday', timestamp: 't' };
    expect(definitionHash('x', payload, ['runAt'])).to.equal(definitionHash('x', { seed: 1, timestamp: 't' }, []));
    expect(definitionHash('x', payload)).to.equal(definitionHash('x', { seed: 1, runAt: 'monday' }, []));
  });

  it('keeps a "__proto__" key as data', () => {
    const payload = JSON.parse('{"__proto__": {"x": 1}, "timestamp": 0}') as JsonObject;
    expect(canonicalJson(removeVolatileKeys(payload))).to.equal('{"__proto__":{"x":1}}');
  });

  it('refuses numbers JSON cannot carry', () => {
    expect(() => outputHash(Number.NaN)).to.throw(/NaN/);
    expect(() => definitionHash('x', { big: Number.POSITIVE_INFINITY })).to.throw(/Infinity/);
  });
});
