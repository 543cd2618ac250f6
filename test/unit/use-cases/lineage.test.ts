import { expect } from 'chai';
import { readerGrant } from '../../../src/domain/access.js';
import { recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';
import { rejection } from '../../support/waits.js';
import type { ProvenanceError } from '../../../src/domain/errors.js';
import { lineageObjects } from '../../support/lineage-objects.js';
import { renderGraph } from '../../../src/domain/graph-export/index.js';
import { reportIssues } from '../../support/reproducibility-report.js';

const alice = principal('lab', 'alice');
const eve = principal('other-lab', 'eve');

/** GetLineage, ListDependents, ExportGraph and CheckReproducibility over the memory adapters. */
describe('use cases: lineage queries', () => {
  let s: MemoryService;
  beforeEach(async () => {
    s = memoryService({ handlers: { train: ({ payload }) => payload } });
    // raw → clean → model (lab); eve's report reads model, shared with alice; eve's private sibling too.
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'raw', readers: [readerGrant(eve)!] }));
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'clean', parentIds: ['raw'], readers: [readerGrant(eve)!] }));
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'model', parentIds: ['clean'], readers: [readerGrant(eve)!] }));
    await s.service.recordJob(eve, recordJobCommand({ jobId: 'report', parentIds: ['model'] }));
  });
  afterEach(() => s.close());

  const lineage = (who = alice, jobId = 'model') =>
    s.service.getLineage(who, { jobId, directions: ['ANCESTORS', 'DESCENDANTS'], maxDepth: 0, maxNodes: 0, view: 'BASIC' });

  it('walks both directions, and shows a job the caller may not read as a placeholder only', async () => {
    const answer = await lineage();
    expect(answer.root.jobId).to.equal('model');
    const shown = answer.nodes.map((n) => [n.row.jobId, n.relation, n.depth, n.restricted ?? false]);
    expect(shown.slice(0, 2)).to.deep.include.members([['clean', 'ANCESTOR', 1, false]]);
    expect(shown).to.deep.include(['raw', 'ANCESTOR', 2, false]);
    const hidden = answer.nodes.filter((n) => n.restricted);
    expect(hidden).to.have.length(1);
    expect(hidden[0]!.row.jobId).to.not.equal('report');
    expect(answer.hiddenNodeCount).to.equal(1);
  });

  it('shows the whole lineage to a reader the jobs are shared with', async () => {
    const answer = await lineage(eve);
    expect(answer.nodes.map((n) => n.row.jobId).sort()).to.deep.equal(['clean', 'raw', 'report']);
    expect(answer.hiddenNodeCount).to.equal(0);
  });

  it('lists dependents, direct or transitive, hiding those the caller may not read', async () => {
    const direct = await s.service.listDependents(alice, { jobId: 'raw', transitive: false, pageSize: 10 });
    expect(direct.dependents.map((d) => 'job' in d ? d.job.jobId : 'hidden')).to.deep.equal(['clean']);
    const all = await s.service.listDependents(alice, { jobId: 'raw', transitive: true, pageSize: 10 });
    expect(all.dependents).to.have.length(3);
    expect(all.hiddenNodeCount).to.equal(1);
  });

  it('exports the graph as whole records', async () => {
    const graph = await lineageObjects(await s.service.exportGraph(eve, { jobId: 'report', directions: ['ANCESTORS'], maxDepth: 0, wholeRecords: true }));
    expect(graph.nodes.map((n) => n.row.record?.jobId)).to.deep.equal(['model', 'clean', 'raw']);
  });

  it('exports the graph without records for the documents that show only types and statuses, rendering them the same', async () => {
    // Alice may not read eve's report: it is a placeholder among model's descendants.
    for (const [caller, jobId] of [[eve, 'report'], [alice, 'model']] as const) {
      const command = { jobId, directions: ['ANCESTORS' as const, 'DESCENDANTS' as const], maxDepth: 0 };
      const basic = await lineageObjects(await s.service.exportGraph(caller, { ...command, wholeRecords: false }));
      const full = await lineageObjects(await s.service.exportGraph(caller, { ...command, wholeRecords: true }));
      expect(basic.nodes.map((n) => n.row.record)).to.deep.equal(basic.nodes.map(() => undefined));
      expect(basic.hiddenNodeCount).to.equal(caller === alice ? 1 : 0);
      for (const format of ['DOT', 'MERMAID'] as const) expect(renderGraph(format, basic)).to.deep.equal(renderGraph(format, full));
      expect(() => renderGraph('PROV_JSON', basic)).to.throw(/needs whole records/);
    }
  });

  it('finds a recorded lineage reproducible, and names what no longer matches once a parent changes its output', async () => {
    expect(await reportIssues(await s.service.checkReproducibility(alice, 'model'))).to.deep.equal([]);
    const stored = (await s.store.getJobs(['raw']))[0]!;
    const changed = { ...stored, result: { ...stored.result!, outputHash: 'changed' }, etag: 'changed-etag' };
    expect(await s.store.replaceJob(changed, stored.etag)).to.equal(true);
    const report = await s.service.checkReproducibility(alice, 'model');
    expect((await reportIssues(report)).map((issue) => [issue.reason, issue.jobId])).to.deep.equal([['INPUT_HASH_MISMATCH', 'clean']]);
    expect(report.checkedAncestorCount).to.equal(2);
  });

  it('refuses a filtered or capped walk of more than 4 × PROVENANCE_MAX_LINEAGE_NODES jobs, and answers one of that many', async () => {
    const small = memoryService({ limits: { maxLineageNodes: 2 } });
    await small.service.recordJob(alice, recordJobCommand({ jobId: 'hub' }));
    for (let i = 0; i < 8; i++) await small.service.recordJob(alice, recordJobCommand({ jobId: `spoke-${i}`, parentIds: ['hub'] }));
    const filtered = { jobId: 'hub', directions: ['DESCENDANTS' as const], maxDepth: 0, maxNodes: 0, view: 'IDS' as const, filter: 'status = SUCCEEDED' };
    const capped = { ...filtered, filter: '', maxChildrenPerNode: 1 };
    expect((await lineageObjects(await small.service.getLineage(alice, filtered))).nodes).to.have.length(2);
    expect((await lineageObjects(await small.service.getLineage(alice, capped))).nodes).to.have.length(1);
    await small.service.recordJob(alice, recordJobCommand({ jobId: 'spoke-8', parentIds: ['hub'] }));
    for (const command of [filtered, capped]) {
      const error = (await rejection(small.service.getLineage(alice, command))) as ProvenanceError;
      expect([error.code, error.reason]).to.deep.equal(['RESOURCE_EXHAUSTED', 'LINEAGE_FILTER_TOO_COSTLY']);
    }
  });
});
