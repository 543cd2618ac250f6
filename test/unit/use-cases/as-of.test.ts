import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MemoryProvenanceStore } from '../../../src/adapters/memory/memory-provenance-store.js';
import { SqliteProvenanceStore } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import { readerGrant } from '../../../src/domain/access.js';
import { ProvenanceError } from '../../../src/domain/errors.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';
import { rejection } from '../../support/waits.js';
import { lineageObjects } from '../../support/lineage-objects.js';
import { renderGraph } from '../../../src/domain/graph-export/index.js';

/** GetJob, GetLineage, ExportProvenanceGraph, ListDependents and StreamLineage as of a time, over the memory and SQLite stores with the test clock. */

const alice = principal('lab', 'alice');
const eve = principal('other-lab', 'eve');

function failure(error: unknown): ProvenanceError {
  expect(error).to.be.instanceOf(ProvenanceError);
  return error as ProvenanceError;
}

const sqliteDirectory = mkdtempSync(join(tmpdir(), 'provenance-as-of-'));
let files = 0;
const stores: Array<{ name: string; open(): ProvenanceStore }> = [
  { name: 'memory', open: () => new MemoryProvenanceStore() },
  { name: 'SQLite', open: () => SqliteProvenanceStore.open({ path: join(sqliteDirectory, `${++files}.db`) }) },
];

describe('use cases: as of a time', () => {
  after(() => rmSync(sqliteDirectory, { recursive: true, force: true }));

  for (const { name, open } of stores) {
    describe(`(${name} store)`, () => {
      let s: MemoryService;
      /** Times between the steps of the story below. */
      const t: Record<string, Date> = {};

      /**
       * root is recorded QUEUED, then SUCCEEDED; child is recorded under it and
       * succeeds; late is created after; then root's cache is invalidated,
       * which makes root and child STALE. The clock moves 1 s between steps.
       */
      beforeEach(async () => {
        s = memoryService({ store: open() });
        t.beforeRoot = s.clock.now();
        s.clock.advance(1000);
        await s.service.recordJob(alice, recordJobCommand({ jobId: 'root', status: 'QUEUED', outputHash: undefined, readers: [readerGrant(eve)!] }));
        t.rootQueued = s.clock.advance(500);
        s.clock.advance(500);
        await s.service.recordJob(alice, recordJobCommand({ jobId: 'root', status: 'SUCCEEDED', outputHash: 'out-1', readers: [readerGrant(eve)!] }));
        t.rootSucceeded = s.clock.advance(500);
        s.clock.advance(500);
        await s.service.recordJob(alice, recordJobCommand({ jobId: 'child', parentIds: ['root'], outputHash: 'out-2' }));
        t.childRecorded = s.clock.advance(500);
        s.clock.advance(500);
        await s.service.recordJob(alice, recordJobCommand({ jobId: 'late', parentIds: ['child'], outputHash: 'out-3' }));
        t.lateRecorded = s.clock.advance(500);
        s.clock.advance(500);
        await s.service.invalidateCache(alice, { jobId: 'root', dryRun: false });
        t.invalidated = s.clock.advance(500);
      });
      afterEach(() => s.close());

      it('GetJob answers the job as it was, NOT_FOUND before its creation, and as now for a future time', async () => {
        expect(failure(await rejection(s.service.getJob(alice, 'root', t.beforeRoot))).code).to.equal('NOT_FOUND');
        const queued = await s.service.getJob(alice, 'root', t.rootQueued);
        expect(queued).to.include({ status: 'QUEUED', cacheState: 'NONE' });
        expect(queued).to.not.have.property('result');
        const succeeded = await s.service.getJob(alice, 'root', t.rootSucceeded);
        expect(succeeded).to.include({ status: 'SUCCEEDED', cacheState: 'FRESH' });
        expect(succeeded.result?.outputHash).to.equal('out-1');
        expect((await s.service.getJob(alice, 'root', t.invalidated)).cacheState).to.equal('STALE');
        const now = await s.service.getJob(alice, 'root');
        expect(await s.service.getJob(alice, 'root', new Date(Date.UTC(9999, 0, 1)))).to.deep.equal(now);
      });

      it('GetLineage leaves out the jobs created later and shows the states of then, both directions; NOT_FOUND for a root created later', async () => {
        const ids = async (asOf: Date, jobId = 'root') =>
          (await s.service.getLineage(alice, { jobId, directions: ['ANCESTORS', 'DESCENDANTS'], maxDepth: 0, maxNodes: 0, view: 'BASIC', asOf })).nodes.map((node) => [
            node.row.jobId,
            node.row.status,
            node.row.cacheState,
          ]);
        expect(await ids(t.rootSucceeded)).to.deep.equal([]);
        expect(await ids(t.childRecorded)).to.deep.equal([['child', 'SUCCEEDED', 'FRESH']]);
        expect(await ids(t.lateRecorded)).to.deep.equal([
          ['child', 'SUCCEEDED', 'FRESH'],
          ['late', 'SUCCEEDED', 'FRESH'],
        ]);
        expect(await ids(t.invalidated)).to.deep.equal([
          ['child', 'SUCCEEDED', 'STALE'],
          ['late', 'SUCCEEDED', 'STALE'],
        ]);
        expect(await ids(t.lateRecorded, 'late')).to.deep.equal([
          ['child', 'SUCCEEDED', 'FRESH'],
          ['root', 'SUCCEEDED', 'FRESH'],
        ]);
        const early = s.service.getLineage(alice, { jobId: 'late', directions: ['ANCESTORS'], maxDepth: 0, maxNodes: 0, view: 'FULL', asOf: t.childRecorded });
        expect(failure(await rejection(early)).code).to.equal('NOT_FOUND');
        const full = await lineageObjects(await s.service.exportGraph(alice, { jobId: 'root', directions: ['DESCENDANTS'], maxDepth: 0, asOf: t.childRecorded, wholeRecords: true }));
        expect(full.root.record).to.include({ status: 'SUCCEEDED', cacheState: 'FRESH' });
        expect(full.nodes.map((node) => node.row.record!.jobId)).to.deep.equal(['child']);
        // The documents that show only types and statuses read no records, and show those of then all the same.
        const basic = await lineageObjects(await s.service.exportGraph(alice, { jobId: 'root', directions: ['DESCENDANTS'], maxDepth: 0, asOf: t.childRecorded, wholeRecords: false }));
        for (const format of ['DOT', 'MERMAID'] as const) expect(renderGraph(format, basic)).to.deep.equal(renderGraph(format, full));
      });

      it('ListDependents lists the dependents of then, children or transitive, and binds its page tokens to as_of', async () => {
        for (const transitive of [false, true]) {
          const page = await s.service.listDependents(alice, { jobId: 'root', transitive, pageSize: 0, asOf: t.childRecorded });
          expect(page.dependents.map((d) => ('job' in d ? [d.job.jobId, d.job.cacheState] : []))).to.deep.equal([['child', 'FRESH']]);
          expect(page).to.include({ truncated: false, nextPageToken: '' });
        }
        const first = await s.service.listDependents(alice, { jobId: 'root', transitive: true, pageSize: 1, asOf: t.invalidated });
        expect(first.dependents.map((d) => ('job' in d ? [d.job.jobId, d.job.cacheState] : []))).to.deep.equal([['child', 'STALE']]);
        const next = await s.service.listDependents(alice, { jobId: 'root', transitive: true, pageSize: 1, pageToken: first.nextPageToken, asOf: t.invalidated });
        expect(next.dependents.map((d) => ('job' in d ? d.job.jobId : ''))).to.deep.equal(['late']);
        for (const asOf of [t.lateRecorded, undefined]) {
          const error = failure(await rejection(s.service.listDependents(alice, { jobId: 'root', transitive: true, pageSize: 1, pageToken: first.nextPageToken, asOf })));
          expect(error.code).to.equal('INVALID_ARGUMENT');
        }
      });

      it('StreamLineage streams the lineage of then, and binds its resume tokens to as_of', async () => {
        const stream = [];
        for await (const message of await s.service.streamLineage(alice, { jobId: 'root', directions: ['DESCENDANTS'], maxDepth: 0, resumeToken: '', maxMessageNodes: 0, asOf: t.childRecorded })) stream.push(message);
        expect(stream.flatMap((message) => message.nodes.map((node) => node.row.jobId))).to.deep.equal(['child']);
        const resumeToken = stream[0]!.resumeToken;
        const other = s.service.streamLineage(alice, { jobId: 'root', directions: ['DESCENDANTS'], maxDepth: 0, resumeToken, maxMessageNodes: 0, asOf: t.lateRecorded });
        expect(failure(await rejection(other)).code).to.equal('INVALID_ARGUMENT');
      });

      it('decides who may see a job by its current readers, whatever the time', async () => {
        await s.service.recordJob(alice, recordJobCommand({ jobId: 'shared', parentIds: ['root'], status: 'QUEUED', outputHash: undefined, readers: [readerGrant(eve)!] }));
        const queued = s.clock.advance(1000);
        expect((await s.service.getJob(eve, 'shared', queued)).status).to.equal('QUEUED');
        // The owner shares the job with someone else instead: eve may no longer read it, as of any time.
        s.clock.advance(1000);
        await s.service.recordJob(alice, recordJobCommand({ jobId: 'shared', parentIds: ['root'], status: 'RUNNING', outputHash: undefined, readers: [readerGrant(principal('third-lab', 'tom'))!] }));
        expect(failure(await rejection(s.service.getJob(eve, 'shared', queued))).code).to.equal('NOT_FOUND');
        const lineage = await s.service.getLineage(eve, { jobId: 'root', directions: ['DESCENDANTS'], maxDepth: 0, maxNodes: 0, view: 'BASIC', asOf: queued });
        expect(lineage.nodes.map((node) => [node.restricted ?? false, node.row.status])).to.deep.equal([
          [true, undefined],
          [true, undefined],
          [true, undefined],
        ]);
      });

      it('shows a job the caller may not read whatever the time, so that bisecting as_of does not tell its creation', async () => {
        // child and late are alice's, hidden from eve, who may read root; before they were created, and after, eve sees both placeholders.
        for (const asOf of [t.rootSucceeded, t.childRecorded, t.invalidated]) {
          const lineage = await s.service.getLineage(eve, { jobId: 'root', directions: ['DESCENDANTS'], maxDepth: 0, maxNodes: 0, view: 'BASIC', asOf });
          expect(lineage.nodes.map((node) => node.restricted ?? false)).to.deep.equal([true, true]);
          expect(lineage.hiddenNodeCount).to.equal(2);
          for (const transitive of [false, true]) {
            const page = await s.service.listDependents(eve, { jobId: 'root', transitive, pageSize: 0, asOf });
            expect(page.hiddenNodeCount).to.equal(transitive ? 2 : 1);
          }
          const stream = [];
          for await (const message of await s.service.streamLineage(eve, { jobId: 'root', directions: ['DESCENDANTS'], maxDepth: 0, resumeToken: '', maxMessageNodes: 0, asOf })) stream.push(message);
          expect(stream.flatMap((message) => message.nodes.map((node) => node.restricted ?? false))).to.deep.equal([true, true]);
        }
        // The owner is answered as of the time, as ever: nothing before child was created.
        expect((await s.service.getLineage(alice, { jobId: 'root', directions: ['DESCENDANTS'], maxDepth: 0, maxNodes: 0, view: 'BASIC', asOf: t.rootSucceeded })).nodes).to.deep.equal([]);
      });

      it('refuses an as-of walk of more than 4 × PROVENANCE_MAX_LINEAGE_NODES jobs of today\'s graph, and answers one of that many', async () => {
        const small = memoryService({ store: open(), limits: { maxLineageNodes: 2 } });
        try {
          await small.service.recordJob(alice, recordJobCommand({ jobId: 'hub' }));
          for (let i = 0; i < 8; i++) await small.service.recordJob(alice, recordJobCommand({ jobId: `spoke-${i}`, parentIds: ['hub'] }));
          const asOf = small.clock.advance(1000);
          const command = { jobId: 'hub', directions: ['DESCENDANTS' as const], maxDepth: 0, maxNodes: 0, view: 'IDS' as const, asOf };
          const answer = await lineageObjects(await small.service.getLineage(alice, command));
          expect([answer.nodes.length, answer.truncation]).to.deep.equal([2, ['MAX_NODES']]);
          await small.service.recordJob(alice, recordJobCommand({ jobId: 'spoke-8', parentIds: ['hub'] }));
          const error = failure(await rejection(small.service.getLineage(alice, command)));
          expect([error.code, error.reason]).to.deep.equal(['FAILED_PRECONDITION', 'AS_OF_LINEAGE_TOO_LARGE']);
          const dependents = small.service.listDependents(alice, { jobId: 'hub', transitive: false, pageSize: 0, asOf });
          expect(failure(await rejection(dependents)).code).to.equal('FAILED_PRECONDITION');
          // Without as_of, the walk is cut to the nearest in the store, as ever.
          expect((await lineageObjects(await small.service.getLineage(alice, { ...command, asOf: undefined }))).nodes).to.have.length(2);
        } finally {
          await small.close();
        }
      });

      it('refuses an as_of outside the Timestamp range with a field violation, before reading anything', async () => {
        for (const asOf of [new Date(Number.NaN), new Date(Date.UTC(10000, 0, 1)), new Date(-62_135_596_800_001)]) {
          const calls = [
            s.service.getJob(alice, 'root', asOf),
            s.service.getLineage(alice, { jobId: 'root', directions: ['ANCESTORS'], maxDepth: 0, maxNodes: 0, view: 'BASIC', asOf }),
            s.service.listDependents(alice, { jobId: 'missing', transitive: false, pageSize: 0, asOf }),
            s.service.streamLineage(alice, { jobId: 'root', directions: ['ANCESTORS'], maxDepth: 0, resumeToken: '', maxMessageNodes: 0, asOf }),
          ];
          for (const call of calls) {
            const error = failure(await rejection(call));
            expect(error.code).to.equal('INVALID_ARGUMENT');
            expect(error.details.fieldViolations?.map((v) => v.field)).to.deep.equal(['as_of']);
          }
        }
      });
    });
  }
});
