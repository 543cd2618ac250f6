import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import canonicalize from 'canonicalize';
import type { RecordJobCommand, SubmitJobCommand } from '../../src/domain/commands.js';
import { submissionFingerprint } from '../../src/domain/execution.js';
import { canonicalJson, definitionHash, inputHash, outputHash, removeVolatileKeys, sha256Hex } from '../../src/domain/hashing.js';
import { setMember, type JsonObject, type JsonValue } from '../../src/domain/json.js';
import { seededRandom } from '../support/seeded-random.js';
import { recordFingerprint } from '../../src/domain/recording.js';

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
      // As the recording path asks: with the payload's canonical text made for the request fingerprint.
      expect(definitionHash(vector.type, payload, volatileKeys, canonicalJson(payload))).to.equal(vector.sha256);
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

describe('recordFingerprint', () => {
  it('is the hash of the canonical JSON of the request as JSON, without the request id, etag and allow_missing_parents', () => {
    const command: RecordJobCommand = {
      jobId: 'j1',
      requestId: 'r1',
      type: 'train',
      payload: { lr: 0.01, nested: [{ b: 1, a: null }, 'x'], createdAt: 'monday', 'é': -0 },
      provider: { id: 'p', model: 'm', version: 'v' },
      parentIds: ['b', 'a'],
      status: 'SUCCEEDED',
      startedAt: new Date(Date.UTC(2025, 0, 1)),
      completedAt: undefined,
      outputHash: 'sha256:1',
      error: { reason: 'R', message: 'm' },
      labels: { z: '1', a: '2' },
      metadata: { deep: { list: [1, 2.5, { k: true }] } },
      allowMissingParents: true,
      readers: ['ana'],
      attempt: 2,
      etag: 'e1',
    };
    const { requestId: _r, etag: _e, allowMissingParents: _a, ...content } = command;
    const expected = sha256Hex(canonicalJson(JSON.parse(JSON.stringify(content)) as JsonObject));
    expect(recordFingerprint(command)).to.equal(expected);
    expect(recordFingerprint(command, canonicalJson(command.payload))).to.equal(expected);
    expect(recordFingerprint({ ...command, requestId: 'other', etag: undefined, allowMissingParents: false })).to.equal(expected);
  });
});

describe('canonicalJson', () => {
  it('writes strings, numbers and arrays of strings as canonicalize does, and refuses what it refuses', () => {
    for (const value of ['', 'a"b\\c\n\u0001é😀\u2028', 0, -0, 1e21, 1e-7, 0.1 + 0.2, -17, [], ['x', 'é😀', ''], ['x', 1], [null]]) {
      expect(canonicalJson(value), JSON.stringify(value)).to.equal(canonicalize(value));
    }
    for (const value of ['a\ud800', ['b', '\udc00'], NaN, Infinity]) expect(() => canonicalJson(value), String(value)).to.throw();
  });

  it('writes any JSON value as canonicalize does: keys in code unit order, undefined members left out, Dates and toJSON through it', () => {
    const random = seededRandom('HASHING_SEED', 'random JSON values');
    const keys = ['a', 'B', 'b', 'aa', '', 'é', '😀', '\uff61', '__proto__', '10', '9', 'a b'];
    const strings = ['', 'x', 'a"b\\c\n', '\u0001é😀\u2028', '\uffff'];
    const numbers = [0, -0, 1, -17, 0.1 + 0.2, 1e21, 1e-7, 2 ** 53 + 2, -1.5e300];
    const value = (depth: number): JsonValue => {
      const kind = random.int(0, depth > 4 ? 3 : 5);
      if (kind === 0) return random.pick(strings);
      if (kind === 1) return random.pick(numbers);
      if (kind === 2) return random.chance(0.5);
      if (kind === 3) return null;
      if (kind === 4) return Array.from({ length: random.int(0, 4) }, () => value(depth + 1));
      const object: JsonObject = {};
      for (let i = random.int(0, 5); i > 0; i--) setMember(object, random.pick(keys), value(depth + 1));
      return object;
    };
    for (let i = 0; i < 2000; i++) {
      const made = value(0);
      expect(canonicalJson(made), JSON.stringify(made)).to.equal(canonicalize(made));
    }
    const odd = { when: new Date(0), skipped: undefined, nested: { toJSON: () => ({ z: 1, a: [new Date(1)] }) } } as unknown as JsonValue;
    expect(canonicalJson(odd)).to.equal(canonicalize(odd));
    expect(canonicalJson(Object.assign(Object.create(null) as JsonObject, { b: 1, a: 2 }))).to.equal('{"a":2,"b":1}');
    for (const value of [{ 'k\ud800': 1 }, { a: [1, NaN] }, { a: { b: -Infinity } }] as JsonValue[]) expect(() => canonicalJson(value), String(value)).to.throw();
  });
});
