import { expect } from 'chai';
import { mergePatch } from '../../src/domain/json-merge-patch.js';

describe('mergePatch (RFC 7386)', () => {
  // The examples of RFC 7386, appendix A.
  const cases: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  cases.forEach(([target, patch, expected], i) => {
    it(`gives the result of RFC 7386 example ${i + 1}`, () => {
      expect(mergePatch(target as never, patch as never)).to.deep.equal(expected);
    });
  });

  it('leaves the target unchanged', () => {
    const target = { a: { b: 1 } };
    mergePatch(target, { a: { b: 2 } });
    expect(target).to.deep.equal({ a: { b: 1 } });
  });

  it('merges keys named like Object members as data', () => {
    const merged = mergePatch({ kept: 1 }, JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"a": 1}, "toString": null}')) as object;
    expect(Object.getPrototypeOf(merged)).to.equal(Object.prototype);
    expect(Object.keys(merged)).to.deep.equal(['kept', '__proto__', 'constructor']);
    expect(JSON.stringify(merged)).to.equal('{"kept":1,"__proto__":{"polluted":true},"constructor":{"a":1}}');
    const patchedAgain = mergePatch(merged as never, JSON.parse('{"__proto__": {"more": 2}}')) as object;
    expect(JSON.stringify(patchedAgain)).to.equal('{"kept":1,"__proto__":{"polluted":true,"more":2},"constructor":{"a":1}}');
  });
});
