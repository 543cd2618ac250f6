import { expect } from 'chai';
import { compareCodeUnits } from '../../src/domain/hashing.js';
import { utf8StringAt } from '../../src/domain/utf8-strings.js';
import { InternedIds } from '../../src/adapters/sqlite/interned-ids.js';
import { mulberry32 } from '../support/job-records.js';

/** Ids as the graph meets them: mostly short ASCII, some long, a few that are not ASCII (older data), in random order. */
function sampleIds(count: number, random: () => number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = random();
    if (kind < 0.8) ids.push(`g${String(Math.floor(random() * 10 * count)).padStart(6, '0')}`);
    else if (kind < 0.95) ids.push(`job:${'x'.repeat(Math.floor(random() * 120))}-${i}`);
    else ids.push(['é', 'ü-漢字', '😀x', '\uffff', 'Ā'][i % 5]! + i);
  }
  return ids;
}

describe('Interned job ids', () => {
  for (const [name, withNonAscii] of [
    ['ASCII ids', false],
    ['ids of which some are not ASCII', true],
  ] as const) {
    it(`gives each distinct id one index, finds it by its id, gives the id back and orders by code units (${name})`, () => {
      const random = mulberry32(withNonAscii ? 7 : 3);
      // Enough ids to grow every buffer and the hash table several times over.
      const ids = sampleIds(20_000, random).filter((id) => withNonAscii || /^[\x00-\x7f]*$/.test(id));
      const interned = new InternedIds();
      const indexOf = new Map<string, number>();
      for (const id of ids) {
        const index = interned.intern(id);
        if (!indexOf.has(id)) {
          expect(index, id).to.equal(indexOf.size);
          indexOf.set(id, index);
        }
        expect(index, id).to.equal(indexOf.get(id));
      }
      expect(interned.count).to.equal(indexOf.size);
      for (const [id, index] of indexOf) {
        expect(interned.find(id), id).to.equal(index);
        expect(interned.id(index)).to.equal(id);
      }
      for (const absent of ['', 'g', 'g0000000000', 'é', 'e\u0301', 'job:', '\u00c3\u00a9']) {
        if (!indexOf.has(absent)) expect(interned.find(absent), absent).to.equal(undefined);
      }
      const all = [...indexOf.values()];
      const byCompare = [...all].sort((a, b) => interned.compare(a, b)).map((index) => interned.id(index));
      expect(byCompare).to.deep.equal([...indexOf.keys()].sort(compareCodeUnits));
    });
  }

  it('copies the UTF-8 bytes of the ids asked for, in the order asked', () => {
    const interned = new InternedIds();
    const ids = ['g1', 'é', '', 'g22', '😀x', 'plain'];
    for (const id of ids) interned.intern(id);
    const order = Int32Array.from([4, 0, 3, 3, 1, 2, 5]);
    const packed = interned.utf8Of(order);
    expect(Array.from(order, (_, i) => utf8StringAt(packed, i))).to.deep.equal(Array.from(order, (index) => ids[index]));
    expect(Buffer.from(packed.utf8).toString('utf8')).to.equal(Array.from(order, (index) => ids[index]).join(''));
    expect(interned.utf8Of(order, 2).offsets).to.have.length(3);
  });
});
