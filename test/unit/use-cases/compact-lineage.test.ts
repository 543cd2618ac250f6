import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { GetLineageResponse, LineageGraph, TruncationReason } from '@provenance/client';
import { MemoryProvenanceStore } from '../../../src/adapters/memory/memory-provenance-store.js';
import { SqliteProvenanceStore } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import type { LineageView } from '../../../src/domain/commands.js';
import { opaqueJobId, readerGrant } from '../../../src/domain/access.js';
import type { Lineage, LineageDirection } from '../../../src/domain/lineage.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { encodeInParts } from '../../../src/grpc/encoded-messages.js';
import { lineageResponseParts, toLineageResponse } from '../../../src/grpc/mapping.js';
import { encodeLineageAnswer } from '../../../src/grpc/lineage-answer.js';
import { renderInTurns } from '../../../src/grpc/handlers/lineage.js';
import { exportReadsRecords, renderGraph, renderGraphInSteps } from '../../../src/domain/graph-export/index.js';
import type { JobView } from '../../../src/domain/job-view.js';
import { mulberry32, randomDag } from '../../support/job-records.js';
import { lineageObjects } from '../../support/lineage-objects.js';
import { memoryService, principal, TEST_SECRET, type MemoryService } from '../../support/memory-service.js';

/**
 * GetLineage's COMPACT view, as it crosses the wire and the TypeScript
 * client reads it (LineageGraph), equals the IDS view's answer, on random
 * DAGs where every seventh job belongs to another tenant (restricted
 * placeholders), cut by max_nodes and max_depth, each direction and both;
 * every view's answer encoded in parts, or written from the columns of a
 * lineage the store built (IDS and COMPACT), is the same bytes as in one
 * call. The FULL view and PROV-JSON of a lineage the store built, whose
 * records are read as the answer is written, answer what the store that
 * reads records with the walk answers, and show a job whose grant was
 * taken away meanwhile as a placeholder.
 */

const alice = principal('default', 'alice');
const JOBS = 400;

const sqliteDirectory = mkdtempSync(join(tmpdir(), 'provenance-compact-'));
const stores: Array<{ name: string; open(): ProvenanceStore }> = [
  { name: 'memory', open: () => new MemoryProvenanceStore() },
  { name: 'SQLite', open: () => SqliteProvenanceStore.open({ path: join(sqliteDirectory, `${Date.now()}-${Math.random()}.db`) }) },
];

type Command = { jobId: string; directions: LineageDirection[]; maxDepth: number; maxNodes: number };

/** IDS and compact answers made from columns (a lineage the store built), counted. */
let columnar = 0;
/** FULL answers whose records were read as they were encoded (a lineage the store built), counted. */
let readingRecords = 0;

/**
 * The answer as a client decodes it off the wire, as the server sends it:
 * a lineage of node objects encoded in parts (of 7 nodes or edges), one in
 * columns from its columns. Either way those are the bytes of the whole
 * answer the lineage's node objects map to.
 */
async function wireAnswer(s: MemoryService, view: LineageView, command: Command): Promise<GetLineageResponse> {
  const lineage = await s.service.getLineage(alice, { ...command, view });
  const built = 'columns' in lineage || 'readRecords' in lineage;
  const { bytes } = built ? await encodeLineageAnswer(lineage, view) : await encodeInParts(GetLineageResponse, lineageResponseParts(lineage, view, 7));
  if ('columns' in lineage) columnar++;
  if ('readRecords' in lineage) readingRecords++;
  expect(bytes).to.deep.equal(Buffer.from(GetLineageResponse.encode(toLineageResponse(await lineageObjects(lineage), view)).finish()));
  return GetLineageResponse.decode(bytes);
}

/** What a caller reads of the compact answer through LineageGraph, shaped as a GetLineageResponse. */
function asIdsAnswer(graph: LineageGraph): GetLineageResponse {
  const { root, nodes, edges, ancestorDepth, descendantDepth, truncated, truncationReasons, hiddenNodeCount } = graph;
  return { root, nodes, edges, ancestorDepth, descendantDepth, truncated, truncationReasons, hiddenNodeCount, compact: undefined };
}

describe('use cases: the compact lineage view', () => {
  after(() => rmSync(sqliteDirectory, { recursive: true, force: true }));

  it('is refused by LineageGraph when the answer is of another view', () => {
    expect(() => new LineageGraph(GetLineageResponse.fromPartial({ nodes: [{ jobId: 'a' }] }))).to.throw(/LINEAGE_VIEW_COMPACT/);
  });

  for (const { name, open } of stores) {
    describe(`use cases: GetLineage's compact view equals the IDS view (${name} store)`, () => {
      let s: MemoryService;
      let store: ProvenanceStore;
      const dag = randomDag(JOBS, 20261205, { maxParents: 3, window: 40, customize: (index) => (index % 7 === 3 ? { tenant: 'other' } : {}) });

      before(async () => {
        store = open();
        s = memoryService({ store });
        await store.insertJobs(dag);
        // A loaded lineage graph builds the lineages (ProvenanceStore.builtLineage).
        await store.loading()?.done;
        columnar = 0;
      });
      after(async () => {
        await s.close();
        await store.close();
      });

      it('on random roots, both directions and each, with and without max_nodes and max_depth', async () => {
        const random = mulberry32(5);
        const readable = dag.filter((job) => job.tenant === 'default');
        const seen = { hidden: 0, maxNodes: 0, maxDepth: 0, compared: 0 };
        for (let r = 0; r < 8; r++) {
          const jobId = readable[Math.floor(random() * readable.length)]!.jobId;
          for (const directions of [['ANCESTORS'], ['DESCENDANTS'], ['ANCESTORS', 'DESCENDANTS']] as LineageDirection[][]) {
            for (const [maxDepth, maxNodes] of [[0, 0], [2, 0], [0, 25], [3, 10]]) {
              const command = { jobId, directions, maxDepth: maxDepth!, maxNodes: maxNodes! };
              const ids = await wireAnswer(s, 'IDS', command);
              const compact = await wireAnswer(s, 'COMPACT', command);
              expect(compact.nodes).to.deep.equal([]);
              expect(compact.edges).to.deep.equal([]);
              expect(asIdsAnswer(new LineageGraph(compact)), `${jobId} ${directions.join('+')} max_depth ${maxDepth} max_nodes ${maxNodes}`).to.deep.equal(ids);
              if (ids.hiddenNodeCount > 0) seen.hidden++;
              if (ids.truncationReasons.includes(TruncationReason.TRUNCATION_REASON_MAX_NODES)) seen.maxNodes++;
              if (ids.truncationReasons.includes(TruncationReason.TRUNCATION_REASON_MAX_DEPTH)) seen.maxDepth++;
              seen.compared++;
            }
          }
        }
        // The cases the comparison is about did occur.
        expect(seen.compared).to.equal(8 * 3 * 4);
        expect(seen.hidden).to.be.greaterThan(0);
        expect(seen.maxNodes).to.be.greaterThan(0);
        expect(seen.maxDepth).to.be.greaterThan(0);
        // The store that builds lineages answered the IDS and compact views from columns, every time.
        expect(columnar).to.equal(name === 'SQLite' ? 2 * seen.compared : 0);
      });

      it('is encoded in parts to the bytes of the whole answer in every view', async () => {
        const jobId = dag[JOBS - 1]!.jobId;
        readingRecords = 0;
        for (const view of ['IDS', 'COMPACT', 'BASIC', 'FULL'] as LineageView[]) {
          const answer = await wireAnswer(s, view, { jobId, directions: ['ANCESTORS', 'DESCENDANTS'], maxDepth: 0, maxNodes: 0 });
          expect(answer.hiddenNodeCount).to.be.greaterThan(0);
          if (view !== 'COMPACT') expect(answer.edges.length).to.be.greaterThan(7);
        }
        // The store that builds lineages read the FULL view's records as its answer was encoded.
        expect(readingRecords).to.equal(name === 'SQLite' ? 1 : 0);
      });

      it('packs the ids once, with the root at index 0 and each edge as a pair of indexes', async () => {
        const jobId = dag[JOBS - 1]!.jobId;
        const compact = (await wireAnswer(s, 'COMPACT', { jobId, directions: ['ANCESTORS'], maxDepth: 0, maxNodes: 0 })).compact!;
        expect(compact.jobIds[0]).to.equal(jobId);
        expect(new Set(compact.jobIds).size).to.equal(compact.jobIds.length);
        expect(compact.depths.length).to.equal(compact.jobIds.length);
        expect(compact.relations.length).to.equal(compact.jobIds.length);
        expect(compact.edgeIndexes.length % 2).to.equal(0);
        expect(compact.edgeIndexes.every((index) => index < compact.jobIds.length)).to.equal(true);
      });
    });
  }

  describe('use cases: the FULL view of a lineage the store built reads its records as it is encoded (SQLite store)', () => {
    // Every seventh job is another tenant's, hidden from alice; every eleventh another tenant's that grants alice reading.
    const grant = readerGrant(alice)!;
    const dag = randomDag(JOBS, 20261206, {
      maxParents: 3,
      window: 40,
      customize: (index) => (index % 7 === 3 ? { tenant: 'other' } : index % 11 === 5 ? { tenant: 'other', readers: [grant] } : {}),
    });
    const sqlite = { store: undefined as unknown as ProvenanceStore, s: undefined as unknown as MemoryService };
    /** The job whose grant the first test of a revocation takes away. */
    let revokedFirst = '';
    /** The job whose grant the second test of a revocation takes away. */
    let revokedSecond = '';
    const memory = { store: undefined as unknown as ProvenanceStore, s: undefined as unknown as MemoryService };

    before(async () => {
      sqlite.store = stores[1]!.open();
      memory.store = stores[0]!.open();
      for (const side of [sqlite, memory]) {
        side.s = memoryService({ store: side.store });
        await side.store.insertJobs(dag);
      }
      await sqlite.store.loading()?.done;
    });
    after(async () => {
      for (const side of [sqlite, memory]) {
        await side.s.close();
        await side.store.close();
      }
    });

    it('answers what the store that reads records with the walk answers, on random roots, both directions and each, with and without limits', async () => {
      const random = mulberry32(11);
      const readable = dag.filter((job) => job.tenant === 'default');
      readingRecords = 0;
      let compared = 0;
      for (let r = 0; r < 6; r++) {
        const jobId = readable[Math.floor(random() * readable.length)]!.jobId;
        for (const directions of [['ANCESTORS'], ['DESCENDANTS'], ['ANCESTORS', 'DESCENDANTS']] as LineageDirection[][]) {
          for (const [maxDepth, maxNodes] of [[0, 0], [0, 25], [3, 10]]) {
            const command = { jobId, directions, maxDepth: maxDepth!, maxNodes: maxNodes! };
            expect(await wireAnswer(sqlite.s, 'FULL', command), `${jobId} ${directions.join('+')}`).to.deep.equal(await wireAnswer(memory.s, 'FULL', command));
            compared++;
          }
        }
      }
      expect(readingRecords).to.equal(compared);
    });

    it('knows who may read the parents its records name from the walk, and looks up in the store only those beyond the lineage', async () => {
      const random = mulberry32(17);
      const readable = dag.filter((job, index) => job.tenant === 'default' && index > JOBS / 2);
      const getAccess = sqlite.store.getAccess.bind(sqlite.store);
      const looked = new Set<string>();
      sqlite.store.getAccess = (jobIds) => {
        for (const id of jobIds) looked.add(id);
        return getAccess(jobIds);
      };
      try {
        for (let r = 0; r < 4; r++) {
          const root = readable[Math.floor(random() * readable.length)]!;
          // The root's own view looks up the parents its record names (views.ts, viewJob); the nodes' records look up nothing more in a whole ancestry.
          const lookedUpForRoot = new Set(root.parentIds);
          for (const maxDepth of [0, 2]) {
            looked.clear();
            const answer = await sqlite.s.service.getLineage(alice, { jobId: root.jobId, directions: ['ANCESTORS'], maxDepth, maxNodes: 0, view: 'FULL' });
            if (!('readRecords' in answer)) throw new Error('the SQLite store did not build the lineage');
            const nodes = (await lineageObjects(answer)).nodes.filter((node) => !node.restricted);
            expect(nodes.length, root.jobId).to.be.above(2);
            const inLineage = new Set(nodes.map((node) => node.row.jobId));
            const beyond = [...looked].filter((id) => !lookedUpForRoot.has(id));
            expect(beyond.filter((id) => inLineage.has(id)), `${root.jobId} at depth ${maxDepth}`).to.deep.equal([]);
            // Cut at depth 2, the records of the nodes at depth 2 name parents beyond it.
            if (maxDepth === 0) expect(beyond, root.jobId).to.deep.equal([]);
            else expect(beyond.length, root.jobId).to.be.above(0);
          }
        }
      } finally {
        sqlite.store.getAccess = getAccess;
      }
    });

    it('exports PROV-JSON, DOT and Mermaid reading the records a step at a time, as the store that reads records (or types and statuses) with the walk renders them', async () => {
      const random = mulberry32(13);
      const readable = dag.filter((job) => job.tenant === 'default');
      for (let r = 0; r < 4; r++) {
        const jobId = readable[Math.floor(random() * readable.length)]!.jobId;
        for (const format of ['PROV_JSON', 'DOT', 'MERMAID'] as const) {
          const command = { jobId, directions: ['ANCESTORS', 'DESCENDANTS'] as LineageDirection[], maxDepth: 0, wholeRecords: exportReadsRecords(format) };
          const answer = await sqlite.s.service.exportGraph(alice, command);
          if (!('readRecords' in answer)) throw new Error('the SQLite store did not build the lineage');
          const { document, restrictedSinceWalk } = await renderInTurns(renderGraphInSteps(format, answer.lineage, true), answer);
          const objects = await memory.s.service.exportGraph(alice, command);
          expect('readRecords' in objects).to.equal(false);
          expect(Buffer.concat(document.pieces).toString('utf8'), `${format} of ${jobId}`).to.equal(renderGraph(format, objects as Lineage<JobView>).content);
          expect(restrictedSinceWalk).to.equal(0);
        }
      }
    });

    it("shows a job whose grant was taken away after the walk as a placeholder, in its node and its edges, and counts it hidden", async () => {
      const root = dag.find((job) => job.tenant === 'default' && job.parentIds.some((id) => dag.find((parent) => parent.jobId === id)!.readers.includes(grant)))!;
      const granted = dag.find((job) => root.parentIds.includes(job.jobId) && job.readers.includes(grant))!;
      revokedFirst = granted.jobId;
      const answer = await sqlite.s.service.getLineage(alice, { jobId: root.jobId, directions: ['ANCESTORS'], maxDepth: 0, maxNodes: 0, view: 'FULL' });
      if (!('readRecords' in answer)) throw new Error('the SQLite store did not build the lineage');
      const before = answer.lineage.nodes.slice(0, answer.lineage.nodes.length).find((node) => node.row.jobId === granted.jobId)!;
      expect(before.restricted).to.equal(undefined);
      const [stored] = await sqlite.store.getJobs([granted.jobId]);
      expect(await sqlite.store.replaceJob({ ...stored!, readers: [], etag: `${stored!.etag}-revoked` }, stored!.etag)).to.equal(true);

      const decoded = GetLineageResponse.decode((await encodeLineageAnswer(answer, 'FULL')).bytes);
      const placeholder = opaqueJobId(granted.jobId, TEST_SECRET);
      const node = decoded.nodes.find((n) => n.jobId === placeholder)!;
      expect(node).to.include({ restricted: true });
      expect(node.job).to.equal(undefined);
      expect(decoded.nodes.some((n) => n.jobId === granted.jobId || n.job?.jobId === granted.jobId)).to.equal(false);
      expect(decoded.edges.some((e) => e.parentJobId === granted.jobId || e.childJobId === granted.jobId)).to.equal(false);
      expect(decoded.edges.some((e) => e.parentJobId === placeholder)).to.equal(true);
      expect(decoded.hiddenNodeCount).to.equal(answer.lineage.hiddenNodeCount + 1);

      const exported = await sqlite.s.service.exportGraph(alice, { jobId: root.jobId, directions: ['ANCESTORS'], maxDepth: 0, wholeRecords: true });
      if (!('readRecords' in exported)) throw new Error('the SQLite store did not build the lineage');
      const { document, restrictedSinceWalk } = await renderInTurns(renderGraphInSteps('PROV_JSON', exported.lineage, true), exported);
      expect(restrictedSinceWalk).to.equal(0);
      const prov = JSON.parse(Buffer.concat(document.pieces).toString('utf8')) as { activity: Record<string, Record<string, unknown>> };
      expect(prov.activity[`provenance:${placeholder}`]).to.deep.equal({ 'attribute:restricted': { $: 'true', type: 'xsd:boolean' } });
      expect(prov.activity[`provenance:${granted.jobId}`]).to.equal(undefined);
    });

    it('counts a job whose grant is taken away between the walk and the reading of its record as hidden in the export too', async () => {
      const root = dag.find((job) => job.tenant === 'default' && job.parentIds.some((id) => dag.find((parent) => parent.jobId === id)!.readers.includes(grant) && id !== revokedFirst))!;
      const granted = dag.find((job) => root.parentIds.includes(job.jobId) && job.readers.includes(grant) && job.jobId !== revokedFirst)!;
      revokedSecond = granted.jobId;
      const exported = await sqlite.s.service.exportGraph(alice, { jobId: root.jobId, directions: ['ANCESTORS'], maxDepth: 0, wholeRecords: true });
      if (!('readRecords' in exported)) throw new Error('the SQLite store did not build the lineage');
      const [stored] = await sqlite.store.getJobs([granted.jobId]);
      expect(await sqlite.store.replaceJob({ ...stored!, readers: [], etag: `${stored!.etag}-revoked` }, stored!.etag)).to.equal(true);
      const { document, restrictedSinceWalk } = await renderInTurns(renderGraphInSteps('PROV_JSON', exported.lineage, true), exported);
      expect(restrictedSinceWalk).to.equal(1);
      const prov = JSON.parse(Buffer.concat(document.pieces).toString('utf8')) as { activity: Record<string, unknown>; wasInformedBy: Record<string, Record<string, string>> };
      expect(prov.activity[`provenance:${granted.jobId}`]).to.equal(undefined);
      const placeholder = `provenance:${opaqueJobId(granted.jobId, TEST_SECRET)}`;
      expect(prov.activity[placeholder]).to.deep.equal({ 'attribute:restricted': { $: 'true', type: 'xsd:boolean' } });
      expect(Object.values(prov.wasInformedBy).some((relation) => relation['prov:informant'] === placeholder)).to.equal(true);
    });

    it('names a job whose grant is taken away between the walk and the reading of its record by its placeholder in DOT and Mermaid, in its node and its edges', async () => {
      const revoked = new Set([revokedFirst, revokedSecond]);
      const grantedParent = (job: (typeof dag)[number]) => job.parentIds.find((id) => !revoked.has(id) && dag.find((parent) => parent.jobId === id)!.readers.includes(grant));
      for (const format of ['DOT', 'MERMAID'] as const) {
        const root = dag.find((job) => job.tenant === 'default' && grantedParent(job) !== undefined)!;
        const grantedId = grantedParent(root)!;
        const exported = await sqlite.s.service.exportGraph(alice, { jobId: root.jobId, directions: ['ANCESTORS'], maxDepth: 0, wholeRecords: false });
        if (!('readRecords' in exported)) throw new Error('the SQLite store did not build the lineage');
        const [stored] = await sqlite.store.getJobs([grantedId]);
        expect(await sqlite.store.replaceJob({ ...stored!, readers: [], etag: `${stored!.etag}-revoked` }, stored!.etag)).to.equal(true);
        revoked.add(grantedId);
        const { document, restrictedSinceWalk } = await renderInTurns(renderGraphInSteps(format, exported.lineage, true), exported);
        expect(restrictedSinceWalk).to.equal(1);
        const text = Buffer.concat(document.pieces).toString('utf8');
        expect(text, format).not.to.contain(grantedId);
        expect(text, format).not.to.contain('undefined');
        const placeholder = opaqueJobId(grantedId, TEST_SECRET);
        if (format === 'DOT') {
          expect(text).to.contain(`"${placeholder}" [label="${placeholder}\\nrestricted"`);
          expect(text).to.contain(`"${placeholder}" -> `);
        } else {
          const node = new RegExp(`^  (n\\d+)\\["${placeholder}<br/>restricted"\\]:::restricted$`, 'm').exec(text);
          expect(node, text.slice(0, 2000)).not.to.equal(null);
          expect(text).to.match(new RegExp(`^  ${node![1]} --> n\\d+$`, 'm'));
        }
      }
    });
  });
});
