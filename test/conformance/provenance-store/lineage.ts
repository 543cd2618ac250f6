import { expect } from 'chai';
import { compareCodeUnits } from '../../../src/domain/hashing.js';
import type { JobRecord } from '../../../src/domain/job.js';
import { buildLineage, type LineageDirection, type LineageRow } from '../../../src/domain/lineage.js';
import { JobViewer } from '../../../src/domain/job-view.js';
import { utf8StringsIn } from '../../../src/domain/utf8-strings.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { makeJob, mulberry32, nextJobId, randomDag } from '../../support/job-records.js';
import { insertAll, uniqueTenant, reachable, shortestDepths, withoutDepth, awkwardJson, everyFieldSet, noOptionalField } from './helpers.js';
import type { StoreSuite } from './harness.js';

/** Lineage walks: ancestors and descendants within depths, projections, agreement with a breadth-first search. A part of runProvenanceStoreConformance (index.ts). */
export function describeLineage(suite: StoreSuite): void {
  const { open: openStore, use: useStore } = suite;
  describe('lineage', function () {
    const store = useStore();
    /*
     * The graph of `shape` below (job: its parents) holds a node with two parents (m), a diamond
     * (m, then x and y, then z), a chain (z, w, v), a parent without a record (ghost, named by w
     * and orphan) and a job without edges (lone).
     */
    let tag: string;
    const graph = new Map<string, JobRecord>();
    const id = (name: string) => `${tag}-${name}`;
    const names = (...list: string[]) => list.map(id).sort(compareCodeUnits);

    before(async () => {
      tag = nextJobId('graph');
      const shape: Array<[string, string[]]> = [
        ['r1', []],
        ['r2', []],
        ['m', ['r1', 'r2']],
        ['u', ['r1']],
        ['x', ['m']],
        ['y', ['m']],
        ['z', ['y', 'x']],
        ['w', ['z', 'ghost']],
        ['v', ['w']],
        ['orphan', ['ghost']],
        ['lone', []],
      ];
      // x and v also carry the hardest records, which FULL rows must return intact. Tenants and readers vary,
      // readers in an order that is not sorted.
      const access: Record<string, Pick<JobRecord, 'tenant' | 'readers'>> = {
        m: { tenant: uniqueTenant(), readers: ['zed@lab.test', 'amy@lab.test'] },
        z: { tenant: uniqueTenant(), readers: [] },
        w: { tenant: 'default', readers: ['bob@lab.test'] },
        r2: { tenant: uniqueTenant(), readers: ['amy@lab.test'] },
      };
      for (const [name, parents] of shape) {
        const fields = { jobId: id(name), parentIds: parents.map(id), ...access[name] };
        const record =
          name === 'x'
            ? everyFieldSet({ ...fields, payload: awkwardJson(), metadata: awkwardJson() })
            : name === 'v'
              ? noOptionalField(fields)
              : makeJob({ ...fields, status: name === 'y' ? 'FAILED' : 'SUCCEEDED' });
        graph.set(record.jobId, record);
      }
      await insertAll(store(), [...graph.values()].reverse());
    });

    async function lineageIds(root: string, direction: LineageDirection, maxDepth?: number): Promise<string[]> {
      const rows = await store().lineage({ rootId: id(root), direction, projection: 'IDS', ...(maxDepth === undefined ? {} : { maxDepth }) });
      return rows.map((row) => row.jobId).sort(compareCodeUnits);
    }

    it('finds the ancestors of a chain within each depth', async () => {
      expect(await lineageIds('v', 'ANCESTORS', 0)).to.deep.equal([]);
      expect(await lineageIds('v', 'ANCESTORS', 1)).to.deep.equal(names('w'));
      expect(await lineageIds('v', 'ANCESTORS', 2)).to.deep.equal(names('w', 'z'));
      expect(await lineageIds('v', 'ANCESTORS')).to.deep.equal(names('w', 'z', 'x', 'y', 'm', 'r1', 'r2'));
    });

    it('crosses a diamond once and follows every parent of a node', async () => {
      expect(await lineageIds('z', 'ANCESTORS', 1)).to.deep.equal(names('x', 'y'));
      expect(await lineageIds('z', 'ANCESTORS', 2)).to.deep.equal(names('x', 'y', 'm'));
      expect(await lineageIds('z', 'ANCESTORS')).to.deep.equal(names('x', 'y', 'm', 'r1', 'r2'));
      expect(await lineageIds('m', 'ANCESTORS')).to.deep.equal(names('r1', 'r2'));
      expect(await lineageIds('r1', 'ANCESTORS')).to.deep.equal([]);
    });

    it('finds the descendants within each depth', async () => {
      expect(await lineageIds('r1', 'DESCENDANTS', 0)).to.deep.equal([]);
      expect(await lineageIds('r1', 'DESCENDANTS', 1)).to.deep.equal(names('m', 'u'));
      expect(await lineageIds('r1', 'DESCENDANTS', 2)).to.deep.equal(names('m', 'u', 'x', 'y'));
      expect(await lineageIds('r1', 'DESCENDANTS')).to.deep.equal(names('m', 'u', 'x', 'y', 'z', 'w', 'v'));
      expect(await lineageIds('r2', 'DESCENDANTS', 3)).to.deep.equal(names('m', 'x', 'y', 'z'));
      expect(await lineageIds('m', 'DESCENDANTS', 2)).to.deep.equal(names('x', 'y', 'z'));
      expect(await lineageIds('v', 'DESCENDANTS')).to.deep.equal([]);
      expect(await lineageIds('lone', 'DESCENDANTS')).to.deep.equal([]);
    });

    it('leaves out a parent that has no record', async () => {
      expect(await lineageIds('w', 'ANCESTORS', 1)).to.deep.equal(names('z'));
      expect(await lineageIds('orphan', 'ANCESTORS')).to.deep.equal([]);
    });

    it('finds the descendants of a root that has no record', async () => {
      expect(await lineageIds('ghost', 'DESCENDANTS', 1)).to.deep.equal(names('w', 'orphan'));
      expect(await lineageIds('ghost', 'DESCENDANTS')).to.deep.equal(names('w', 'orphan', 'v'));
      expect(await lineageIds('nobody', 'DESCENDANTS')).to.deep.equal([]);
    });

    it('projects IDS: job id, parent ids, tenant and readers only', async () => {
      for (const direction of ['ANCESTORS', 'DESCENDANTS'] as const) {
        const rows = await store().lineage({ rootId: id(direction === 'ANCESTORS' ? 'v' : 'r2'), direction, projection: 'IDS' });
        expect(rows, direction).to.have.length(direction === 'ANCESTORS' ? 7 : 6);
        for (const row of rows) {
          const { jobId, parentIds, tenant, readers } = graph.get(row.jobId)!;
          expect(withoutDepth(row), row.jobId).to.deep.equal({ jobId, parentIds, tenant, readers });
        }
      }
    });

    it('follows the readers a replacement sets, in every projection, a stream step and getAccess', async () => {
      const share = nextJobId('share');
      const shared = makeJob({ jobId: `${share}-p`, tenant: uniqueTenant(), readers: ['acme/carol'] });
      const child = makeJob({ jobId: `${share}-c`, parentIds: [shared.jobId] });
      await insertAll(store(), [shared, child]);
      const readersOfParent = async () => {
        const walked = await Promise.all(
          (['IDS', 'SUMMARY', 'FULL'] as const).map(async (projection) => {
            const rows = await store().lineage({ rootId: child.jobId, direction: 'ANCESTORS', projection });
            return rows.find((row) => row.jobId === shared.jobId)!.readers;
          }),
        );
        const [stepped] = await store().lineageStep([shared.jobId]);
        const [access] = await store().getAccess([shared.jobId]);
        return [...walked, stepped!.readers, access!.readers];
      };
      expect(await readersOfParent()).to.deep.equal(Array(5).fill(['acme/carol']));
      const taken = { ...shared, readers: ['globex/ci-bot'], etag: `${shared.etag}-2` };
      expect(await store().replaceJob(taken, shared.etag)).to.equal(true);
      expect(await readersOfParent()).to.deep.equal(Array(5).fill(['globex/ci-bot']));
      expect(await store().replaceJob({ ...taken, readers: [], etag: `${shared.etag}-3` }, taken.etag)).to.equal(true);
      expect(await readersOfParent()).to.deep.equal(Array(5).fill([]));
    });

    it('projects SUMMARY: plus type, status and cache state', async () => {
      const rows = await store().lineage({ rootId: id('r2'), direction: 'DESCENDANTS', projection: 'SUMMARY' });
      expect(rows.map((row) => row.jobId).sort(compareCodeUnits)).to.deep.equal(names('m', 'x', 'y', 'z', 'w', 'v'));
      for (const row of rows) {
        const { jobId, parentIds, tenant, readers, type, status, cacheState } = graph.get(row.jobId)!;
        expect(withoutDepth(row), row.jobId).to.deep.equal({ jobId, parentIds, tenant, readers, type, status, cacheState });
      }
      expect(rows.find((row) => row.jobId === id('y'))!.status).to.equal('FAILED');
      expect(new Set(rows.map((row) => row.tenant)).size).to.equal(4);
    });

    it('projects FULL: plus the whole stored record', async () => {
      for (const direction of ['ANCESTORS', 'DESCENDANTS'] as const) {
        const rows = await store().lineage({ rootId: id('z'), direction, projection: 'FULL', maxDepth: 2 });
        expect(rows.map((row) => row.jobId).sort(compareCodeUnits), direction).to.deep.equal(
          direction === 'ANCESTORS' ? names('x', 'y', 'm') : names('w', 'v'),
        );
        for (const row of rows) {
          const record = graph.get(row.jobId)!;
          const { jobId, parentIds, tenant, readers, type, status, cacheState } = record;
          expect(withoutDepth(row), row.jobId).to.deep.equal({ jobId, parentIds, tenant, readers, type, status, cacheState, record });
        }
      }
    });

    describe('lineageStep', () => {
      const stepOf = async (s: ProvenanceStore, jobIds: string[]) =>
        new Map((await s.lineageStep(jobIds)).map((row) => [row.jobId, { ...row, childIds: [...row.childIds].sort(compareCodeUnits) }]));

      it("gives each job's ids row and its children's ids, leaving out ids without a record", async () => {
        const step = await stepOf(store(), [id('m'), id('ghost'), id('lone'), id('r1'), id('x'), id('w'), id('nothing'), id('m')]);
        expect([...step.keys()].sort(compareCodeUnits)).to.deep.equal(names('m', 'lone', 'r1', 'x', 'w'));
        const children: Record<string, string[]> = { m: names('x', 'y'), lone: [], r1: names('m', 'u'), x: names('z'), w: names('v') };
        for (const [name, childIds] of Object.entries(children)) {
          const { jobId, parentIds, tenant, readers } = graph.get(id(name))!;
          expect(step.get(id(name)), name).to.deep.equal({ jobId, parentIds, tenant, readers, childIds });
        }
      });

      it('sees a child recorded after an earlier step', async () => {
        const parent = makeJob({ jobId: nextJobId('step-parent') });
        await insertAll(store(), [parent]);
        expect((await stepOf(store(), [parent.jobId])).get(parent.jobId)!.childIds).to.deep.equal([]);
        const child = makeJob({ jobId: nextJobId('step-child'), parentIds: [parent.jobId] });
        await insertAll(store(), [child]);
        expect((await stepOf(store(), [parent.jobId])).get(parent.jobId)!.childIds).to.deep.equal([child.jobId]);
      });

      it('agrees with the records on a random graph', async function () {
        this.timeout(60_000);
        const dag = randomDag(300, 20261205, { maxParents: 3, window: 50 });
        const dagStore = await openStore();
        await insertAll(dagStore, dag);
        const childrenOf = new Map<string, string[]>();
        for (const record of dag) for (const parent of record.parentIds) childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), record.jobId]);
        for (let start = 0; start < dag.length; start += 100) {
          const chunk = dag.slice(start, start + 100);
          const step = await stepOf(dagStore, chunk.map((record) => record.jobId));
          for (const { jobId, parentIds, tenant, readers } of chunk) {
            expect(step.get(jobId), jobId).to.deep.equal({ jobId, parentIds, tenant, readers, childIds: [...(childrenOf.get(jobId) ?? [])].sort(compareCodeUnits) });
          }
        }
      });
    });

    it('keeps, of a walk cut to the nearest jobs, those nearest as the caller is shown them (shownTo): the jobs it may read by id, then the others by placeholder', async () => {
      const tag = nextJobId('shown');
      const [own, other] = [uniqueTenant(), uniqueTenant()];
      const root = makeJob({ jobId: `${tag}-root`, tenant: own });
      // Depth 1: the caller's jobs and another tenant's, their ids interleaved; depth 2: one of each below the first.
      const children = [['a-0', other], ['m-1', own], ['m-3', other], ['m-5', own], ['z-9', other], ['m-9', own]] as const;
      const records = [root, ...children.map(([name, tenant]) => makeJob({ jobId: `${tag}-${name}`, tenant, parentIds: [root.jobId] }))];
      // Enough hidden ones that two keys order them alike by chance once in millions.
      for (let i = 0; i < 10; i++) records.push(makeJob({ jobId: `${tag}-h-${i}`, tenant: other, parentIds: [root.jobId] }));
      records.push(makeJob({ jobId: `${tag}-g-own`, tenant: own, parentIds: [`${tag}-m-1`] }), makeJob({ jobId: `${tag}-g-other`, tenant: other, parentIds: [`${tag}-m-1`] }));
      await insertAll(store(), records);
      const rootRow = { jobId: root.jobId, parentIds: [], tenant: own, readers: [] };
      const cutsFor = async (viewer: JobViewer): Promise<void> => {
        const query = { rootId: root.jobId, direction: 'DESCENDANTS', projection: 'IDS', maxDepth: 3 } as const;
        const answer = (rows: LineageRow[], maxNodes: number) => {
          const lineage = buildLineage(rootRow, { descendants: rows }, { maxDepth: 2, maxNodes }, undefined, viewer);
          return { ids: lineage.nodes.map((node) => node.row.jobId), truncation: lineage.truncation };
        };
        const whole = answer(await store().lineage(query), 100);
        expect(whole.ids.slice(0, 3)).to.deep.equal(['m-1', 'm-5', 'm-9'].map((name) => `${tag}-${name}`));
        for (const maxNodes of [1, 3, 4, 5, 7, 8, 15]) {
          const expected = answer(await store().lineage(query), maxNodes);
          expect(expected.ids, `the whole walk cut at ${maxNodes}`).to.deep.equal(whole.ids.slice(0, maxNodes));
          const cut = await store().lineage({ ...query, nearest: maxNodes + 1, shownTo: viewer.shownTo });
          expect(answer(cut, maxNodes), `nearest ${maxNodes + 1}`).to.deep.equal(expected);
          const built = await store().builtLineage?.({ rootId: root.jobId, directions: ['DESCENDANTS'], maxDepth: 2, maxNodes, shownTo: viewer.shownTo });
          if (built) expect(utf8StringsIn(built.columns.jobIds, 0, maxNodes), `built, ${maxNodes} nodes`).to.deep.equal(expected.ids);
        }
      };
      // Two deployments' keys, one after the other: a store that keeps what it made of the first must not order by it for the second.
      for (const key of [Buffer.alloc(32, 3), Buffer.alloc(32, 4), Buffer.alloc(32, 3)]) await cutsFor(new JobViewer({ tenant: own, subject: 'amy' }, key));
    });

    it('agrees with a breadth-first search on a random graph', async function () {
      this.timeout(60_000);
      const dag = randomDag(300, 20240501, { maxParents: 3, window: 50 });
      const dagStore = await openStore();
      await insertAll(dagStore, dag);
      const parentsOf = new Map(dag.map((r) => [r.jobId, r.parentIds]));
      const childrenOf = new Map<string, string[]>();
      for (const record of dag) {
        for (const parent of record.parentIds) childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), record.jobId]);
      }
      const random = mulberry32(7);
      for (let i = 0; i < 20; i++) {
        const root = dag[Math.floor(random() * dag.length)]!.jobId;
        for (const direction of ['ANCESTORS', 'DESCENDANTS'] as const) {
          const next = direction === 'ANCESTORS' ? parentsOf : childrenOf;
          for (const maxDepth of [undefined, 1, 3]) {
            const rows = await dagStore.lineage({ rootId: root, direction, projection: 'IDS', ...(maxDepth === undefined ? {} : { maxDepth }) });
            const expected = [...reachable(root, next, maxDepth)].sort(compareCodeUnits);
            const label = `${direction} of ${root} within ${maxDepth ?? 'any'}`;
            expect(rows.map((row) => row.jobId).sort(compareCodeUnits), label).to.deep.equal(expected);
            const depths = shortestDepths(root, next);
            for (const row of rows) {
              expect(row.parentIds, label).to.deep.equal(parentsOf.get(row.jobId));
              // A store that gives depths gives the shortest one.
              if (row.depth !== undefined) expect(row.depth, `${label}: depth of ${row.jobId}`).to.equal(depths.get(row.jobId));
            }
          }
        }
      }
    });
  });
}
