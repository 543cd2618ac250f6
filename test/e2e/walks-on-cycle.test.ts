import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { GraphFormat, JobStatus, LineageDirection, LineageRelation, ReproducibilityIssueReason } from '@provenance/client';
import { compareCodeUnits } from '../../src/domain/hashing.js';
import { SqliteProvenanceStore } from '../../src/adapters/sqlite/sqlite-provenance-store.js';
import { collectEvents, connect, subscribed, type Client } from '../support/grpc-client.js';
import { parseDot } from '../support/graph-documents.js';
import { freshEtag, makeJob, nextJobId } from '../support/job-records.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

/**
 * Every walk of the API over a cycle that data written before the cycle
 * rule may hold: each must end, list each job once and give shortest
 * depths. The cycle c1 → c2 → c3 → c1 (each names the one before as a
 * parent), with root a parent of c1 and d a child of c3, is written into
 * the database file through the store before the server starts (replaceJob,
 * which never checks the lineage, gives c1 the parent c3).
 */
describe('API walks over a cycle that older data holds (SQLite)', function () {
  this.timeout(60_000);
  const directory = mkdtempSync(join(tmpdir(), 'provenance-old-cycle-'));
  const path = join(directory, 'provenance.db');
  const tag = nextJobId('old');
  const id = (name: string) => `${tag}-${name}`;
  const sorted = (ids: string[]) => [...ids].sort(compareCodeUnits);
  let server: ServerProcess;
  let api: Client;

  before(async () => {
    const store = SqliteProvenanceStore.open({ path });
    try {
      // SUCCEEDED with the type of a built-in handler, so that reproducibility reports only what the cycle causes.
      const outputHashes = new Map<string, string>();
      const job = (name: string, parents: string[]) => {
        const record = makeJob({ jobId: id(name), type: 'echo', provider: { id: '', model: '', version: '' }, parentIds: parents.map(id) }, { parentOutputHashes: outputHashes });
        outputHashes.set(record.jobId, record.result!.outputHash);
        return record;
      };
      const c1 = job('c1', ['root']);
      const records = [job('root', []), c1, job('c2', ['c1']), job('c3', ['c2']), job('d', ['c3'])];
      await store.insertJobs(records);
      expect(await store.replaceJob({ ...c1, parentIds: [id('root'), id('c3')], etag: freshEtag() }, c1.etag)).to.equal(true);
    } finally {
      await store.close();
    }
    server = await startServer({ PROVENANCE_SQLITE_PATH: path });
    api = connect(server.address);
  });

  after(async () => {
    api?.close();
    await server?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('GetLineage lists each job once at its shortest depth, the root left out, with the cycle edges', async () => {
    const lineage = await api.getLineage({ jobId: id('c1') });
    const nodes = lineage.nodes.map((node) => [node.jobId, node.depth, node.relation]);
    // c2 and c3 are both ancestors and descendants of c1; each is shown once, as an ancestor, at its nearer ancestor depth.
    expect(nodes).to.deep.equal([
      [id('c3'), 1, LineageRelation.LINEAGE_RELATION_ANCESTOR],
      [id('root'), 1, LineageRelation.LINEAGE_RELATION_ANCESTOR],
      [id('c2'), 2, LineageRelation.LINEAGE_RELATION_ANCESTOR],
      [id('d'), 3, LineageRelation.LINEAGE_RELATION_DESCENDANT],
    ].sort((a, b) => (a[1] as number) - (b[1] as number) || (a[2] as number) - (b[2] as number) || compareCodeUnits(a[0] as string, b[0] as string)));
    const edges = lineage.edges.map((edge) => `${edge.parentJobId}>${edge.childJobId}`);
    expect(sorted(edges)).to.deep.equal(sorted([`${id('root')}>${id('c1')}`, `${id('c3')}>${id('c1')}`, `${id('c1')}>${id('c2')}`, `${id('c2')}>${id('c3')}`, `${id('c3')}>${id('d')}`]));
    expect(lineage.truncated).to.equal(false);
  });

  it('ListDependents and InvalidateCache reach each descendant once', async () => {
    const dependents = await api.listDependents({ jobId: id('c1'), transitive: true });
    expect(dependents.dependents.map((dependent) => [dependent.job?.jobId, dependent.depth])).to.deep.equal([
      [id('c2'), 1],
      [id('c3'), 2],
      [id('d'), 3],
    ]);
    const invalidation = await api.invalidateCache({ jobId: id('c1'), dryRun: true });
    expect(invalidation.affectedJobIds).to.deep.equal([id('c1'), id('c2'), id('c3'), id('d')]);
  });

  it('ExportProvenanceGraph declares each job once', async () => {
    const exported = await api.exportProvenanceGraph({ jobId: id('c2'), direction: LineageDirection.LINEAGE_DIRECTION_BOTH, format: GraphFormat.GRAPH_FORMAT_DOT });
    const graph = parseDot(exported.content);
    expect(sorted([...graph.nodes.keys()])).to.deep.equal(sorted(['root', 'c1', 'c2', 'c3', 'd'].map(id)));
  });

  it('CheckReproducibility does not report the job as missing from its own ancestry', async () => {
    const report = await api.checkReproducibility({ jobId: id('c1') });
    expect(report.checkedAncestorCount).to.equal(3);
    const missing = report.issues.filter((issue) => issue.reason === ReproducibilityIssueReason.REPRODUCIBILITY_ISSUE_REASON_MISSING_ANCESTOR);
    expect(missing).to.deep.equal([]);
    // c1's stored input hash was computed with its parents before the cycle was made; that alone is reported.
    expect(report.issues.map((issue) => [issue.reason, issue.jobId])).to.deep.equal([[ReproducibilityIssueReason.REPRODUCIBILITY_ISSUE_REASON_INPUT_HASH_MISMATCH, id('c1')]]);
  });

  it('WatchEvents lineage_of takes in new jobs below the cycle', async () => {
    const stream = await subscribed(api.events({ lineageOf: id('c2') }));
    const child = await api.recordJob({ jobId: id('e'), type: 'echo', parentJobIds: [id('d')], status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'out-e' });
    const { events } = await collectEvents(stream, 1);
    stream.cancel();
    expect(events[0]!.jobId).to.equal(child.jobId);
  });
});
