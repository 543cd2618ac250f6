import { expect } from 'chai';
import { fromUtf8StringsInSteps, toUtf8Strings, utf8StringAt, utf8StringCount, type Utf8Strings, Utf8StringColumn } from '../../src/domain/utf8-strings.js';

/** Every string, the steps run to their end. */
function fromUtf8Strings(strings: Utf8Strings): string[] {
  const steps = fromUtf8StringsInSteps(strings, 2);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

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

  it('gives them back in steps, pausing after each run of stepSize strings, ASCII runs or not', () => {
    const strings = ['g1', 'é', '', 'g2', 'g3', '😀x', 'g4'];
    for (const stepSize of [1, 2, 3, 7, 100]) {
      const steps = fromUtf8StringsInSteps(toUtf8Strings(strings), stepSize);
      let pauses = 0;
      for (let step = steps.next(); ; step = steps.next(), pauses++) {
        if (step.done) {
          expect(step.value, `step ${stepSize}`).to.deep.equal(strings);
          break;
        }
      }
      expect(pauses, `step ${stepSize}`).to.equal(Math.ceil(strings.length / stepSize));
    }
  });
});

describe('Utf8StringColumn', () => {
  it('gives back each string pushed, ASCII or not, empty or not, past several growths of its buffers', () => {
    const strings = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? '' : i % 5 === 0 ? `é${i}😀` : `job-${i}-${'x'.repeat(i % 40)}`));
    const column = new Utf8StringColumn();
    for (const string of strings) column.push(string);
    expect(column.length).to.equal(strings.length);
    expect(strings.map((_, i) => column.at(i))).to.deep.equal(strings);
  });
});
