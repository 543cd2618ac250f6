import { expect } from 'chai';
import { IdPositions } from '../../src/domain/id-positions.js';

describe('IdPositions', () => {
  for (const size of [3, 200_000]) {
    it(`answers what a Map would, for ${size.toLocaleString('en-US')} ids (${size > 65_536 ? 'split over several maps' : 'one map'})`, () => {
      const ids = Array.from({ length: size }, (_, i) => `job-${(i * 7919).toString(36)}-é${i % 13}`);
      const positions = new IdPositions(size);
      const map = new Map<string, number>();
      ids.forEach((id, i) => {
        positions.set(id, i);
        map.set(id, i);
      });
      // A later set of an id replaces its position.
      positions.set(ids[0]!, -5);
      map.set(ids[0]!, -5);
      for (const id of [...ids, 'absent', '', `${ids[1]}x`]) expect(positions.get(id), id).to.equal(map.get(id));
    });
  }
});
