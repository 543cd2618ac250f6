import { expect } from 'chai';
import { compareCodeUnits } from '../../../src/domain/hashing.js';
import type { JobRecord } from '../../../src/domain/job.js';
import type { LineageDirection } from '../../../src/domain/lineage.js';
import type { InsertOutcome, LineageProjection, ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { freshEtag, makeJob, nextJobId } from '../../support/job-records.js';

/**
 * The cycle rule of insertJobs, and walks over a cycle that older data may
 * hold, for every adapter: a part of runProvenanceStoreConformance (index.ts).
 */
export interface CycleHarness {
  /** A new, empty store. */
  open(): Promise<ProvenanceStore>;
  /** A second connection to the database of a store open() gave, as another server process has. */
  openTwin(store: ProvenanceStore): Promise<ProvenanceStore>;
}

const INSERTED: InsertOutcome = { inserted: true };
/** Rounds of the concurrency tests: each is a fresh chance for both inserts to pass their check before either is stored. */
const CONCURRENT_ROUNDS = 40;

function cycleOutcome(...cycle: string[]): InsertOutcome {
  return { inserted: false, conflict: 'LINEAGE_CYCLE', cycle };
}

export function describeCycleRules(harness: CycleHarness): void {
  describe('insertJobs refuses a record that would close a cycle', function () {
    this.timeout(120_000);
    let store: ProvenanceStore;
    let twin: ProvenanceStore;
    let tag: string;
    const id = (name: string) => `${tag}-${name}`;

    before(async () => {
      store = await harness.open();
      twin = await harness.openTwin(store);
    });
    beforeEach(() => {
      tag = nextJobId('cycle');
    });

    it('refuses the second of two records naming each other, with the path, and stores nothing of it', async () => {
      const x = makeJob({ jobId: id('x'), parentIds: [id('y')] });
      expect(await store.insertJobs([x])).to.deep.equal([INSERTED]);
      const y = makeJob({ jobId: id('y'), parentIds: [id('x')] });
      expect(await store.insertJobs([y])).to.deep.equal([cycleOutcome(id('y'), id('x'), id('y'))]);
      expect(await store.getJobs([id('y')])).to.deep.equal([]);
      expect(await store.findReferencedIds([id('x')])).to.deep.equal([]);
      // The id is still free: recorded without the closing parent, it is stored.
      const alone = makeJob({ jobId: id('y') });
      expect(await store.insertJobs([alone])).to.deep.equal([INSERTED]);
    });

    it('names the shortest path through stored jobs, and refuses a record naming itself', async () => {
      // b and c were recorded before a, which b names; a taking c (or b) as a parent would close a → b → c → a.
      const b = makeJob({ jobId: id('b'), parentIds: [id('a')] });
      const c = makeJob({ jobId: id('c'), parentIds: [id('b')] });
      expect(await store.insertJobs([b, c])).to.deep.equal([INSERTED, INSERTED]);
      const a = makeJob({ jobId: id('a'), parentIds: [id('unrelated'), id('c'), id('b')] });
      expect(await store.insertJobs([a])).to.deep.equal([cycleOutcome(id('a'), id('b'), id('a'))]);
      const self = makeJob({ jobId: id('self'), parentIds: [id('self')] });
      expect(await store.insertJobs([self])).to.deep.equal([cycleOutcome(id('self'), id('self'))]);
      expect(await store.getJobs([id('a'), id('self')])).to.deep.equal([]);
    });

    it('refuses the record of a batch that closes a cycle with earlier records of the batch, and writes the others', async () => {
      const p = makeJob({ jobId: id('p'), parentIds: [id('r')] });
      const q = makeJob({ jobId: id('q'), parentIds: [id('p')] });
      const r = makeJob({ jobId: id('r'), parentIds: [id('q')] });
      const after = makeJob({ jobId: id('after'), parentIds: [id('q')] });
      expect(await store.insertJobs([p, q, r, after])).to.deep.equal([INSERTED, INSERTED, cycleOutcome(id('r'), id('p'), id('q'), id('r')), INSERTED]);
      expect(sortedIds(await store.getJobs([p, q, r, after].map((job) => job.jobId)))).to.deep.equal(sortedIds([p, q, after]));
    });

    it('refuses the record of a batch that closes a cycle through a stored job and an earlier record of the batch', async () => {
      // c, stored, names x; p names c and x names p in one call: x → c → p → x.
      const c = makeJob({ jobId: id('c'), parentIds: [id('x')] });
      expect(await store.insertJobs([c])).to.deep.equal([INSERTED]);
      const p = makeJob({ jobId: id('p'), parentIds: [id('c')] });
      const x = makeJob({ jobId: id('x'), parentIds: [id('p')] });
      const after = makeJob({ jobId: id('after'), parentIds: [id('p')] });
      expect(await store.insertJobs([p, x, after])).to.deep.equal([INSERTED, cycleOutcome(id('x'), id('c'), id('p'), id('x')), INSERTED]);
      expect(sortedIds(await store.getJobs([p, x, after].map((job) => job.jobId)))).to.deep.equal(sortedIds([p, after]));
    });

    it('reports a taken job id as JOB_ID even when the record would also close a cycle', async () => {
      const x = makeJob({ jobId: id('x'), parentIds: [id('y')] });
      const y = makeJob({ jobId: id('y') });
      expect(await store.insertJobs([x, y])).to.deep.equal([INSERTED, INSERTED]);
      const again = makeJob({ jobId: id('y'), parentIds: [id('x')] });
      expect(await store.insertJobs([again])).to.deep.equal([{ inserted: false, conflict: 'JOB_ID' }]);
    });

    it('writes records with generated ids together with checked ones, outcomes in call order', async () => {
      const x = makeJob({ jobId: id('x'), parentIds: [id('y')] });
      expect(await store.insertJobs([x])).to.deep.equal([INSERTED]);
      const generated = [makeJob({ parentIds: [id('x')] }), makeJob()];
      const y = makeJob({ jobId: id('y'), parentIds: [id('x')] });
      const z = makeJob({ jobId: id('z'), parentIds: [id('x')] });
      const outcomes = await store.insertJobs([generated[0]!, y, generated[1]!, z], { generatedIds: new Set(generated.map((job) => job.jobId)) });
      expect(outcomes).to.deep.equal([INSERTED, cycleOutcome(id('y'), id('x'), id('y')), INSERTED, INSERTED]);
    });

    it('never stores both of two records naming each other, inserted at the same time through two connections', async () => {
      for (let round = 0; round < CONCURRENT_ROUNDS; round++) {
        const x = makeJob({ jobId: id(`x${round}`), parentIds: [id(`y${round}`)] });
        const y = makeJob({ jobId: id(`y${round}`), parentIds: [id(`x${round}`)] });
        const outcomes = (await Promise.all([store.insertJobs([x]), twin.insertJobs([y])])).flat();
        expectOneRefused(outcomes, `round ${round}`);
        await expectNoCycle(store, [x, y]);
      }
    });

    it('never stores a cycle that two concurrent inserts close through stored jobs without sharing a document', async () => {
      for (let round = 0; round < CONCURRENT_ROUNDS; round++) {
        const [x, y, s1, s2] = ['x', 'y', 's1', 's2'].map((name) => id(`${name}-${round}`)) as [string, string, string, string];
        // s1 names x and s2 names y, both missing; then x takes s2 and y takes s1: x → s2 → y → s1 → x.
        expect(await store.insertJobs([makeJob({ jobId: s1, parentIds: [x] }), makeJob({ jobId: s2, parentIds: [y] })])).to.deep.equal([INSERTED, INSERTED]);
        const closingX = makeJob({ jobId: x, parentIds: [s2] });
        const closingY = makeJob({ jobId: y, parentIds: [s1] });
        const outcomes = (await Promise.all([store.insertJobs([closingX]), twin.insertJobs([closingY])])).flat();
        expectOneRefused(outcomes, `round ${round}`);
        await expectNoCycle(store, [closingX, closingY]);
      }
    });

    it('never stores both when the closing records come in batches of other work, on both connections at once', async () => {
      for (let round = 0; round < CONCURRENT_ROUNDS / 4; round++) {
        const x = makeJob({ jobId: id(`x${round}`), parentIds: [id(`y${round}`)] });
        const y = makeJob({ jobId: id(`y${round}`), parentIds: [id(`x${round}`)] });
        const [first, second] = await Promise.all([store.insertJobs([makeJob(), x, makeJob()]), twin.insertJobs([makeJob(), makeJob(), y])]);
        expect([first[0], first[2], second[0], second[1]]).to.deep.equal([INSERTED, INSERTED, INSERTED, INSERTED]);
        expectOneRefused([first[1]!, second[2]!], `round ${round}`);
        await expectNoCycle(store, [x, y]);
      }
    });
  });

  describe('walks over a cycle that older data holds', function () {
    let store: ProvenanceStore;
    let tag: string;
    const id = (name: string) => `${tag}-${name}`;
    const names = (...list: string[]) => list.map(id).sort(compareCodeUnits);

    /*
     * c1 → c2 → c3 → c1 (each names the one before as a parent), with d a child of c3, root a parent
     * of c1, and root naming g, which has no record. insertJobs never stores a cycle, so the test makes
     * one as data from before the rule could hold it: replaceJob, which never checks the lineage, gives
     * c1 the parent c3.
     */
    before(async () => {
      store = await harness.open();
      tag = nextJobId('old-cycle');
      const c1 = makeJob({ jobId: id('c1'), parentIds: [id('root')] });
      const records = [
        makeJob({ jobId: id('root'), parentIds: [id('g')] }),
        c1,
        makeJob({ jobId: id('c2'), parentIds: [id('c1')] }),
        makeJob({ jobId: id('c3'), parentIds: [id('c2')] }),
        makeJob({ jobId: id('d'), parentIds: [id('c3')] }),
      ];
      expect(await store.insertJobs(records)).to.deep.equal(records.map(() => INSERTED));
      expect(await store.replaceJob({ ...c1, parentIds: [id('root'), id('c3')], etag: freshEtag() }, c1.etag)).to.equal(true);
    });

    async function walk(root: string, direction: LineageDirection, projection: LineageProjection = 'IDS', maxDepth?: number) {
      return store.lineage({ rootId: id(root), direction, projection, ...(maxDepth === undefined ? {} : { maxDepth }) });
    }

    it('ends, returning each job once and leaving the root out, in every projection', async () => {
      for (const projection of ['IDS', 'SUMMARY', 'FULL'] as const) {
        const ancestors = await walk('c1', 'ANCESTORS', projection);
        expect(ancestors.map((row) => row.jobId).sort(compareCodeUnits), projection).to.deep.equal(names('root', 'c2', 'c3'));
        const descendants = await walk('c1', 'DESCENDANTS', projection);
        expect(descendants.map((row) => row.jobId).sort(compareCodeUnits), projection).to.deep.equal(names('c2', 'c3', 'd'));
      }
      expect((await walk('root', 'DESCENDANTS')).map((row) => row.jobId).sort(compareCodeUnits)).to.deep.equal(names('c1', 'c2', 'c3', 'd'));
      expect((await walk('d', 'ANCESTORS')).map((row) => row.jobId).sort(compareCodeUnits)).to.deep.equal(names('root', 'c1', 'c2', 'c3'));
    });

    it('keeps to the depth limit and gives shortest depths around the cycle', async () => {
      expect((await walk('c1', 'DESCENDANTS', 'IDS', 1)).map((row) => row.jobId)).to.deep.equal(names('c2'));
      expect((await walk('c2', 'ANCESTORS', 'IDS', 2)).map((row) => row.jobId).sort(compareCodeUnits)).to.deep.equal(names('c1', 'c3', 'root'));
      const expected = new Map([[id('c3'), 1], [id('c2'), 2], [id('c1'), 3], [id('root'), 4]]);
      for (const row of await walk('d', 'ANCESTORS')) {
        // A store that gives depths gives the shortest one.
        if (row.depth !== undefined) expect(row.depth, row.jobId).to.equal(expected.get(row.jobId));
      }
    });

    it('lists children and referenced ids on the cycle', async () => {
      expect((await store.listChildren(id('c3'), 10)).map((job) => job.jobId)).to.deep.equal(names('c1', 'd'));
      expect((await store.findReferencedIds([id('c1'), id('d')])).sort(compareCodeUnits)).to.deep.equal(names('c1'));
    });

    it('checks new records against it, ending, and refusing only a new cycle', async () => {
      // f names e, so e is checked, and its check walks up through the old cycle.
      expect(await store.insertJobs([makeJob({ jobId: id('f'), parentIds: [id('e')] })])).to.deep.equal([INSERTED]);
      expect(await store.insertJobs([makeJob({ jobId: id('e'), parentIds: [id('c2')] })])).to.deep.equal([INSERTED]);
      // g (named by root) taking d as a parent closes a new cycle, whose path crosses the old one.
      const g = makeJob({ jobId: id('g'), parentIds: [id('d')] });
      expect(await store.insertJobs([g])).to.deep.equal([cycleOutcome(id('g'), id('root'), id('c1'), id('c2'), id('c3'), id('d'), id('g'))]);
    });
  });
}

/** One of the two inserts stored, the other refused as closing a cycle (either one may win). */
function expectOneRefused(outcomes: readonly InsertOutcome[], label: string): void {
  const inserted = outcomes.filter((outcome) => outcome.inserted);
  expect(inserted, `${label}: ${JSON.stringify(outcomes)}`).to.have.length(1);
  const refused = outcomes.find((outcome) => !outcome.inserted)!;
  expect(refused, label).to.deep.include({ inserted: false, conflict: 'LINEAGE_CYCLE' });
}

/** No stored record among those is its own ancestor. */
async function expectNoCycle(store: ProvenanceStore, records: readonly JobRecord[]): Promise<void> {
  for (const record of records) {
    const ancestors = await store.lineage({ rootId: record.jobId, direction: 'ANCESTORS', projection: 'IDS' });
    const stored = await store.getJobs([record.jobId]);
    if (stored.length === 0) continue;
    const closing = ancestors.filter((row) => row.parentIds.includes(record.jobId));
    expect(closing.map((row) => row.jobId), `${record.jobId} is its own ancestor`).to.deep.equal([]);
  }
}

function sortedIds(records: readonly JobRecord[]): string[] {
  return records.map((record) => record.jobId).sort(compareCodeUnits);
}
