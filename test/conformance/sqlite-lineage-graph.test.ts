import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { compareCodeUnits } from '../../src/domain/hashing.js';
import type { JobRecord } from '../../src/domain/job.js';
import { buildLineage, lineageOfColumns, type LineageDirection, type LineageRow } from '../../src/domain/lineage.js';
import type { LineageStepRow } from '../../src/domain/lineage-stream.js';
import type { LineageProjection } from '../../src/domain/ports/provenance-store.js';
import { unpackBuiltLineage } from '../../src/adapters/sqlite/built-lineage.js';
import { LineageGraph } from '../../src/adapters/sqlite/lineage-graph.js';
import { RECORD_ROWS_PER_PART } from '../../src/adapters/sqlite/lineage-graph-thread.js';
import { TableWalk } from '../../src/adapters/sqlite/lineage-rows.js';
import { ROWS_PER_STEP, packLineageRows, packLineageStepRows, unpackLineageRowsInSteps, unpackLineageStepRows } from '../../src/adapters/sqlite/packed-lineage-rows.js';
import { SqliteProvenanceStore } from '../../src/adapters/sqlite/sqlite-provenance-store.js';
import { freshEtag, makeJob, mulberry32, nextJobId, randomDag } from '../support/job-records.js';
import { rejection } from '../support/waits.js';
import { shortestDepths } from './provenance-store/helpers.js';

/** What the graph must hold of a job: the table's columns, as a simple map. */
interface ModelJob {
  parentIds: string[];
  tenant: string;
  readers: string[];
}

/** Rows by id, for comparing walks whose order within a depth is free. */
function byId(rows: readonly LineageRow[]): LineageRow[] {
  return [...rows].sort((a, b) => compareCodeUnits(a.jobId, b.jobId));
}

/** The walk a plain breadth-first search over the model gives: rows with their shortest depths, ids without a row passed through. */
/** Step rows by job id, each with its children's ids sorted. */
function sortedSteps(rows: readonly LineageStepRow[]): LineageStepRow[] {
  return [...rows].map((row) => ({ ...row, childIds: [...row.childIds].sort(compareCodeUnits) })).sort((a, b) => compareCodeUnits(a.jobId, b.jobId));
}

/** What lineageStep answers for ids on the model. */
function modelSteps(model: ReadonlyMap<string, ModelJob>, ids: readonly string[]): LineageStepRow[] {
  const children = new Map<string, string[]>();
  for (const [jobId, job] of model) for (const parent of job.parentIds) children.set(parent, [...(children.get(parent) ?? []), jobId]);
  return sortedSteps(ids.filter((jobId) => model.has(jobId)).map((jobId) => ({ jobId, ...model.get(jobId)!, childIds: children.get(jobId) ?? [] })));
}

function modelWalk(model: ReadonlyMap<string, ModelJob>, root: string, direction: LineageDirection, maxDepth: number): LineageRow[] {
  const next = new Map<string, string[]>();
  for (const [jobId, job] of model) {
    if (direction === 'ANCESTORS') next.set(jobId, job.parentIds);
    else for (const parent of job.parentIds) next.set(parent, [...(next.get(parent) ?? []), jobId]);
  }
  return byId(
    [...shortestDepths(root, next)]
      .filter(([jobId, depth]) => model.has(jobId) && depth <= maxDepth)
      .map(([jobId, depth]) => ({ jobId, ...model.get(jobId)!, depth })),
  );
}

describe('SQLite lineage graph (compact, in the background)', function () {
  this.timeout(120_000);
  let directory: string;
  let files = 0;
  const newPath = () => join(directory, `graph-${++files}.sqlite`);

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-sqlite-compact-graph-'));
  });

  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('kept up to date through inserts, replacements and deletions, walks like a fresh load, the table and a breadth-first search', async () => {
    const path = newPath();
    const writer = SqliteProvenanceStore.open({ path, lineageGraph: 'on-demand' });
    const db = new Database(path, { readonly: true });
    const raw = new Database(path);
    try {
      const random = mulberry32(20261205);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
      const tenants = ['t-a', 't-b', 't-c'];
      const readerLists = [[], ['auditor@example.test'], ['zoe@example.test', 'ana@example.test']];
      const model = new Map<string, ModelJob>();
      const stored = new Map<string, JobRecord>();
      const incremental = new LineageGraph(db);
      const tableWalk = new TableWalk(db);
      const randomParents = (): string[] => {
        const known = [...stored.keys()];
        const parents = new Set<string>();
        const count = known.length === 0 ? 0 : Math.floor(random() * 4);
        for (let i = 0; i < count; i++) parents.add(random() < 0.05 ? nextJobId('missing') : pick(known));
        return [...parents];
      };
      for (let round = 0; round < 8; round++) {
        for (let change = 0; change < 200; change++) {
          const action = stored.size < 50 ? 0 : random();
          if (action < 0.4) {
            const record = makeJob({ tenant: pick(tenants), readers: pick(readerLists), parentIds: randomParents() });
            const [outcome] = await writer.insertJobs([record]);
            if (!outcome!.inserted) continue;
            stored.set(record.jobId, record);
          } else if (action < 0.9) {
            // Replacements are not checked for cycles: the walks must end on the ones they make.
            const old = pick([...stored.values()]);
            const record = { ...old, tenant: pick(tenants), readers: pick(readerLists), parentIds: randomParents(), etag: freshEtag() };
            expect(await writer.replaceJob(record, old.etag)).to.equal(true);
            stored.set(record.jobId, record);
          } else {
            // What an operator may do: the job's row goes, its children keep naming it.
            const gone = pick([...stored.keys()]);
            raw.prepare('DELETE FROM jobs WHERE job_id = ?').run(gone);
            raw.prepare('DELETE FROM job_parents WHERE child_id = ?').run(gone);
            stored.delete(gone);
          }
        }
        model.clear();
        for (const [jobId, { parentIds, tenant, readers }] of stored) model.set(jobId, { parentIds, tenant, readers });

        const fresh = new LineageGraph(db);
        db.transaction(() => {
          incremental.refresh();
          fresh.refresh();
          const ids = [...stored.keys()];
          for (let i = 0; i < 15; i++) {
            const root = i === 0 ? nextJobId('absent') : pick(ids);
            for (const direction of ['ANCESTORS', 'DESCENDANTS'] as const) {
              for (const maxDepth of [Infinity, 1, 2]) {
                const label = `round ${round}: ${direction} of ${root} within ${maxDepth}`;
                const expected = modelWalk(model, root, direction, maxDepth);
                expect(byId(incremental.walk(root, direction, maxDepth)), `${label}, kept up to date`).to.deep.equal(expected);
                expect(byId(fresh.walk(root, direction, maxDepth)), `${label}, freshly loaded`).to.deep.equal(expected);
                expect(byId(tableWalk.walk(root, direction, maxDepth)), `${label}, from the table`).to.deep.equal(expected);
                // Cut: the 5 nearest (by depth, then job id) and the farthest, in that order.
                const ordered = [...expected].sort((a, b) => a.depth! - b.depth! || compareCodeUnits(a.jobId, b.jobId));
                const cut = ordered.length > 6 ? [...ordered.slice(0, 5), ordered[ordered.length - 1]!] : ordered;
                expect(incremental.walk(root, direction, maxDepth, 5), `${label}, cut`).to.deep.equal(cut);
                expect(tableWalk.walk(root, direction, maxDepth, 5), `${label}, cut, from the table`).to.deep.equal(cut);
              }
            }
          }
          // The lineage built on the graph: what buildLineage builds from its walks' rows, in every direction and cut.
          for (const root of [nextJobId('absent'), ...ids.slice(0, 15)]) {
            for (const directions of [['ANCESTORS'], ['DESCENDANTS'], ['ANCESTORS', 'DESCENDANTS']] as LineageDirection[][]) {
              for (const limits of [{ maxDepth: 10_000, maxNodes: 100_000 }, { maxDepth: 1, maxNodes: 100_000 }, { maxDepth: 2, maxNodes: 5 }, { maxDepth: 10_000, maxNodes: 0 }]) {
                const label = `round ${round}: ${directions.join(' and ')} of ${root} within ${limits.maxDepth}, ${limits.maxNodes} nodes`;
                const rootRow: LineageRow = { jobId: root, parentIds: model.get(root)?.parentIds ?? [], tenant: 't-a', readers: [] };
                const rows = (direction: LineageDirection) => (directions.includes(direction) ? incremental.walk(root, direction, limits.maxDepth + 1) : undefined);
                const { root: _root, hiddenNodeCount: _hidden, ...expected } = buildLineage(rootRow, { ancestors: rows('ANCESTORS'), descendants: rows('DESCENDANTS') }, limits);
                const withoutParents = { ...expected, nodes: expected.nodes.map((node) => ({ ...node, row: { jobId: node.row.jobId, parentIds: [], tenant: node.row.tenant, readers: node.row.readers } })) };
                // Kept up to date, the graph has ids interned since it last ranked them (LineageGraph.rank); freshly loaded, none.
                for (const [graph, how] of [[incremental, 'kept up to date'], [fresh, 'freshly loaded']] as const) {
                  const built = drained(lineageOfColumns({ root: rootRow, hiddenNodeCount: 0, ...unpackBuiltLineage(graph.built({ rootId: root, directions, ...limits })) }));
                  const { root: _builtRoot, hiddenNodeCount: _builtHidden, ...fromColumns } = built;
                  expect(fromColumns, `${label}, ${how}`).to.deep.equal(withoutParents);
                }
              }
            }
          }
          // StreamLineage's steps: every job's row and children, and an id without a row left out.
          const stepIds = [nextJobId('absent'), ...ids.slice(0, 300)];
          const expectedSteps = modelSteps(model, stepIds);
          expect(sortedSteps(incremental.step(stepIds)), `round ${round}: steps, kept up to date`).to.deep.equal(expectedSteps);
          expect(sortedSteps(fresh.step(stepIds)), `round ${round}: steps, freshly loaded`).to.deep.equal(expectedSteps);
          expect(sortedSteps(tableWalk.step(stepIds)), `round ${round}: steps, from the table`).to.deep.equal(expectedSteps);
        })();
      }
    } finally {
      raw.close();
      db.close();
      await writer.close();
    }
  });

  it('builds the same lineages, both directions over a cycle, across the wrap of the stamps its answers mark jobs with', async () => {
    const path = newPath();
    const writer = SqliteProvenanceStore.open({ path, lineageGraph: 'on-demand' });
    const db = new Database(path, { readonly: true });
    try {
      const records = randomDag(60, 20261207, { maxParents: 3, window: 10 });
      await writer.insertJobs(records);
      // A cycle, as older data may hold: the first job becomes a child of the last.
      const first = records[0]!;
      expect(await writer.replaceJob({ ...first, parentIds: [records[records.length - 1]!.jobId], etag: freshEtag() }, first.etag)).to.equal(true);
      const answers = (graph: LineageGraph) =>
        records.slice(0, 20).flatMap((record) =>
          (
            [
              [['ANCESTORS', 'DESCENDANTS'], 3],
              [['ANCESTORS'], 10],
              [['DESCENDANTS'], 10],
            ] as Array<[LineageDirection[], number]>
          ).map(([directions, maxDepth]) => unpackBuiltLineage(graph.built({ rootId: record.jobId, directions, maxDepth, maxNodes: 1000 }))),
        );
      const wrapping = new LineageGraph(db);
      const fresh = new LineageGraph(db);
      db.transaction(() => {
        wrapping.refresh();
        fresh.refresh();
        const expected = answers(fresh);
        expect(answers(wrapping)).to.deep.equal(expected);
        // Stamps and marks are private. Marks as earlier answers leave them, with the lowest stamps, which are given
        // again after the wrap; and the last stamp given a few answers before it.
        const marks = wrapping as unknown as { stamp: number; visited: Int32Array };
        for (let i = 0; i < marks.visited.length; i++) marks.visited[i] = (i % 50) + 1;
        marks.stamp = 0x7fffffff - 5;
        expect(answers(wrapping)).to.deep.equal(expected);
        expect(marks.stamp).to.be.below(1000);
      })();
    } finally {
      db.close();
      await writer.close();
    }
  });

  it('answers lineage during the background load as it does after, and says so until it is loaded', async () => {
    const path = newPath();
    let releaseLoad!: () => void;
    const held = new Promise<void>((resolve) => (releaseLoad = resolve));
    const store = SqliteProvenanceStore.open({ path, holdGraphLoad: held });
    try {
      const dag = randomDag(300, 20261205, { maxParents: 3, window: 40 });
      expect(await store.insertJobs(dag)).to.deep.equal(dag.map(() => ({ inserted: true })));
      const queries = [dag[0]!, dag[150]!, dag[299]!].flatMap((root) =>
        (['ANCESTORS', 'DESCENDANTS'] as const).flatMap((direction) =>
          (['IDS', 'SUMMARY', 'FULL'] as LineageProjection[]).flatMap((projection) =>
            [undefined, 2].map((maxDepth) => ({ rootId: root.jobId, direction, projection, ...(maxDepth === undefined ? {} : { maxDepth }) })),
          ),
        ),
      );
      const loading = store.loading();
      expect(loading?.name).to.equal('lineageGraph');
      expect(loading?.progress).to.be.a('string');
      const duringLoad = await Promise.all(queries.map(async (query) => byId(await store.lineage(query))));
      const stepIds = dag.slice(100, 200).map((record) => record.jobId);
      const stepsDuringLoad = sortedSteps(await store.lineageStep(stepIds));

      releaseLoad();
      await loading!.done;
      expect(store.loading()).to.equal(undefined);
      const afterLoad = await Promise.all(queries.map(async (query) => byId(await store.lineage(query))));
      expect(duringLoad).to.deep.equal(afterLoad);
      expect(stepsDuringLoad).to.deep.equal(sortedSteps(await store.lineageStep(stepIds)));
      expect(stepsDuringLoad).to.have.length(100);
      expect(afterLoad.some((rows) => rows.length > 100)).to.equal(true);
    } finally {
      releaseLoad();
      await store.close();
    }
  });

  it('answers a lineage larger than its table walk limit from the graph once it is loaded (built there when asked so), and smaller ones from the table meanwhile', async () => {
    const path = newPath();
    let releaseLoad!: () => void;
    const held = new Promise<void>((resolve) => (releaseLoad = resolve));
    const store = SqliteProvenanceStore.open({ path, holdGraphLoad: held, tableWalkJobsWhileLoading: 50 });
    try {
      const chain = Array.from({ length: 200 }, (_, i) => makeJob({ jobId: `walked-${i}`, parentIds: i === 0 ? [] : [`walked-${i - 1}`] }));
      await store.insertJobs(chain);
      const small = { rootId: chain[40]!.jobId, direction: 'ANCESTORS' as const, projection: 'IDS' as const };
      const large = { rootId: chain[199]!.jobId, direction: 'ANCESTORS' as const, projection: 'FULL' as const };
      let answeredWhileLoading: boolean | undefined;
      const largeAnswer = store.lineage(large).then((rows) => {
        answeredWhileLoading = store.loading() !== undefined;
        return rows;
      });
      // Built on the graph: a large one waits for it, not sent as rows; a small one is left to lineage(), from the table.
      let builtWhileLoading: boolean | undefined;
      const largeBuilt = store.builtLineage({ rootId: large.rootId, directions: ['ANCESTORS'], maxDepth: 1000, maxNodes: 1000 }).then((built) => {
        builtWhileLoading = store.loading() !== undefined;
        return built;
      });
      expect(await store.builtLineage({ rootId: small.rootId, directions: ['ANCESTORS'], maxDepth: 1000, maxNodes: 1000 })).to.equal(undefined);
      // Asked after the large ones, answered from the table while the load is held: the large ones did not hold the thread.
      expect(await store.lineage(small)).to.have.length(40);
      expect(store.loading()).to.not.equal(undefined);
      releaseLoad();
      expect(await largeAnswer).to.have.length(199);
      expect(answeredWhileLoading).to.equal(false);
      expect((await largeBuilt)!.columns.depths).to.have.length(199);
      expect(builtWhileLoading).to.equal(false);
    } finally {
      releaseLoad();
      await store.close();
    }
  });

  it('sends answers with records in parts, each query whole and its own when several are asked at once', async () => {
    const path = newPath();
    const jobs = Array.from({ length: Math.floor(RECORD_ROWS_PER_PART * 2.5) }, (_, i) => makeJob({ jobId: `chain-${i}`, parentIds: i === 0 ? [] : [`chain-${i - 1}`] }));
    const onDemand = SqliteProvenanceStore.open({ path, lineageGraph: 'on-demand' });
    const background = SqliteProvenanceStore.open({ path });
    try {
      await onDemand.insertJobs(jobs);
      await background.loading()?.done;
      const queries = [jobs.at(-1)!, jobs[RECORD_ROWS_PER_PART + 10]!].map((job) => ({ rootId: job.jobId, direction: 'ANCESTORS' as const, projection: 'FULL' as const }));
      const [inParts, ...others] = await Promise.all(queries.map((query) => background.lineage(query)));
      expect(inParts).to.have.length(jobs.length - 1);
      for (const [i, rows] of [inParts!, ...others].entries()) expect(byId(rows)).to.deep.equal(byId(await onDemand.lineage(queries[i]!)));
    } finally {
      await background.close();
      await onDemand.close();
    }
  });

  /** What steps return, run in one go. */
  function drained<T>(steps: Generator<void, T>): T {
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /** The rows unpacked, with the number of pauses on the way. */
  function unpacked(packed: ReturnType<typeof packLineageRows>): { rows: LineageRow[]; pauses: number } {
    const steps = unpackLineageRowsInSteps(packed);
    for (let pauses = 0; ; pauses++) {
      const step = steps.next();
      if (step.done) return { rows: step.value, pauses };
    }
  }
  const unpackLineageRows = (packed: ReturnType<typeof packLineageRows>) => unpacked(packed).rows;

  it('unpacks many rows in steps, pausing between them', () => {
    const rows = Array.from({ length: ROWS_PER_STEP * 2 + 1 }, (_, i): LineageRow => ({ jobId: `j${i}`, parentIds: i === 0 ? [] : [`j${i - 1}`], tenant: 't', readers: [], depth: i + 1 }));
    const { rows: back, pauses } = unpacked(packLineageRows(rows));
    // After each run of ROWS_PER_STEP strings decoded (the ids and 't'), then between runs of rows.
    expect(pauses).to.equal(Math.ceil((rows.length + 1) / ROWS_PER_STEP) + 2);
    expect(back).to.deep.equal(rows);
  });

  it('packs rows without records for the crossing between threads, and unpacks them equal', () => {
    const rows: LineageRow[] = [
      { jobId: 'a', parentIds: [], tenant: 't', readers: [], depth: 1 },
      { jobId: 'b\n"é"', parentIds: ['a', 'missing'], tenant: 't', readers: ['zoe@example.test', 'ana@example.test'], depth: 2 },
      { jobId: 'c', parentIds: ['b\n"é"', 'a'], tenant: 'u', readers: ['ana@example.test', 'zoe@example.test'], depth: 3 },
    ];
    expect(unpackLineageRows(packLineageRows(rows))).to.deep.equal(rows);
    const summaries = rows.map((row, i): LineageRow => ({ ...row, type: `type-${i % 2}`, status: 'SUCCEEDED', cacheState: i === 0 ? 'STALE' : 'FRESH' }));
    expect(unpackLineageRows(packLineageRows(summaries))).to.deep.equal(summaries);
    expect(unpackLineageRows(packLineageRows([]))).to.deep.equal([]);
  });

  it("packs StreamLineage's step rows for the crossing between threads, and unpacks them equal", () => {
    const rows: LineageStepRow[] = [
      { jobId: 'a', parentIds: [], tenant: 't', readers: [], childIds: ['b\n"é"', 'c'] },
      { jobId: 'b\n"é"', parentIds: ['a', 'missing'], tenant: 't', readers: ['zoe@example.test', 'ana@example.test'], childIds: [] },
      { jobId: 'c', parentIds: ['b\n"é"', 'a'], tenant: 'u', readers: ['ana@example.test', 'zoe@example.test'], childIds: ['d', 'e', 'a'] },
    ];
    expect(unpackLineageStepRows(packLineageStepRows(rows))).to.deep.equal(rows);
    expect(unpackLineageStepRows(packLineageStepRows([]))).to.deep.equal([]);
  });

  it('rejects lineage with UNAVAILABLE once closed, as every other call', async () => {
    const store = SqliteProvenanceStore.open({ path: newPath() });
    await store.close();
    const error = await rejection(store.lineage({ rootId: 'any', direction: 'ANCESTORS', projection: 'IDS' }));
    expect(error).to.have.property('code', 'UNAVAILABLE');
  });
});
