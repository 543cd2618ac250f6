import { expect } from 'chai';
import { fromUtf8Strings, toUtf8Strings, utf8StringAt, utf8StringCount } from '../../src/domain/utf8-strings.js';

describe('UTF-8 strings back to back', () => {
  it('gives back each string, ASCII or not, empty or not', () => {
    for (const strings of [[], ['g000001', 'g000002', ''], ['a', 'é', 'ü-漢字', '😀x', '', 'plain'], ['x'.repeat(300), '漢'.repeat(50)]]) {
      const packed = toUtf8Strings(strings);
      expect(utf8StringCount(packed)).to.equal(strings.length);
      expect(fromUtf8Strings(packed)).to.deep.equal(strings);
      expect(strings.map((_, i) => utf8StringAt(packed, i))).to.deep.equal(strings);
      expect(Buffer.from(packed.utf8).toString('utf8')).to.equal(strings.join(''));
    }
  });
});
