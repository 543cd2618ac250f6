import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus, LineageDirection, LineageFilterMode, LineageView, StreamLineageRequest, TruncationReason, type DeepPartial, type StreamLineageResponse } from '@provenance/client';
import { bearerTokens } from '../support/bearer-tokens.js';
import { makeTemporaryDirectory, type TemporaryDirectory } from '../support/credentials.js';
import { connect, statusDetails, type Client } from '../support/grpc-client.js';
import { restCall } from '../support/rest.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const SUCCEEDED = JobStatus.JOB_STATUS_SUCCEEDED;
const DESCENDANTS = LineageDirection.LINEAGE_DIRECTION_DESCENDANTS;
const PRUNE = LineageFilterMode.LINEAGE_FILTER_MODE_PRUNE;
const COLLAPSE = LineageFilterMode.LINEAGE_FILTER_MODE_COLLAPSE;

/**
 * Lineage filters and fan-out caps on a small graph built for the purpose:
 * the refusals of bad filters, modes and caps (gRPC and REST), what a filter
 * does with a job the caller may not read, resume tokens bound to the
 * filter and caps, a hub's fan-out, and the REST twins' query parameters.
 * Their semantics on random graphs: lineage-filters-random-dag.test.ts.
 */
describe('Lineage filters and fan-out caps', function () {
  this.timeout(120_000);
  const tokens = bearerTokens();
  let directory: TemporaryDirectory;
  let server: ServerProcess;
  let alice: Client, mallory: Client;
  let aliceHeader: { authorization: string };

  before(async () => {
    directory = await makeTemporaryDirectory();
    server = await startServer({ ...tokens.env, PROVENANCE_RATE_LIMIT: '0', PROVENANCE_SQLITE_PATH: join(directory.path, 'provenance.db') });
    aliceHeader = await tokens.header('alice', 'lab', ['submitter']);
    alice = connect(server.address, { headers: aliceHeader });
    mallory = connect(server.address, { headers: await tokens.header('mallory', 'elsewhere', ['submitter']) });
    // alice: shared -> (mallory's hidden, type secret-type) -> (mallory's, shared back with alice, type kept)
    await alice.recordJob({ jobId: 'lf-shared', type: 'source', status: SUCCEEDED, outputHash: 'h', readerSubjects: ['elsewhere/mallory'] });
    await mallory.recordJob({ jobId: 'lf-hidden', type: 'secret-type', parentJobIds: ['lf-shared'], status: SUCCEEDED, outputHash: 'h', labels: { team: 'secret' } });
    await mallory.recordJob({ jobId: 'lf-visible', type: 'kept', parentJobIds: ['lf-hidden'], status: SUCCEEDED, outputHash: 'h', readerSubjects: ['lab/alice'] });
    // alice's hub with 50 children, of two types.
    await alice.recordJob({ jobId: 'lf-hub', type: 'source', status: SUCCEEDED, outputHash: 'h' });
    const children = Array.from({ length: 50 }, (_, i) => ({
      jobId: `lf-child-${String(i).padStart(2, '0')}`,
      type: i % 2 === 0 ? 'even' : 'odd',
      parentJobIds: ['lf-hub'],
      status: SUCCEEDED,
      outputHash: 'h',
    }));
    const response = await alice.batchRecordJobs({ requests: children });
    expect(response.results.every((r) => r.status!.code === 0)).to.equal(true);
  });
  after(async () => {
    for (const client of [alice, mallory]) client?.close();
    await server?.stop();
    await directory?.remove();
  });

  const refusal = async (call: Promise<unknown>) => (await call.then(() => expect.fail('not refused'), (e: unknown) => e)) as ServiceError;
  const allMessages = (client: Client, request: DeepPartial<StreamLineageRequest>) =>
    new Promise<StreamLineageResponse[]>((resolve, reject) => {
      const messages: StreamLineageResponse[] = [];
      const call = client.raw.streamLineage(StreamLineageRequest.fromPartial(request));
      call.on('data', (message: StreamLineageResponse) => messages.push(message));
      call.on('end', () => resolve(messages));
      call.on('error', reject);
    });

  it('refuses bad filters, modes and caps with INVALID_ARGUMENT naming the field, on every method and REST', async () => {
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ filter: 'type == "x"' }, ['filter']],
      [{ filter: 'colour = "red"' }, ['filter']],
      [{ filter: 'type = "x" OR status = FAILED' }, ['filter']],
      [{ filter: `type = "${'x'.repeat(17_000)}"` }, ['filter']],
      [{ filterMode: 7 }, ['filter_mode']],
      [{ maxChildrenPerNode: -1, maxParentsPerNode: -2 }, ['max_children_per_node', 'max_parents_per_node']],
    ];
    for (const [fields, violated] of cases) {
      const request = { jobId: 'lf-hub', ...fields };
      for (const call of [alice.getLineage(request), alice.exportProvenanceGraph(request), allMessages(alice, request)]) {
        const error = await refusal(call);
        expect(error.code, JSON.stringify(fields).slice(0, 80)).to.equal(status.INVALID_ARGUMENT);
        expect(statusDetails(error).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(violated);
      }
    }
    const rest = await restCall(server.httpAddress, 'GET', `/jobs/lf-hub/lineage?filter=${encodeURIComponent('type == "x"')}`, undefined, aliceHeader);
    expect(rest.status).to.equal(400);
    expect(rest.text).to.contain('filter');
  });

  it('never matches a hidden job: COLLAPSE walks through it, PRUNE stops at it, a filter on its fields tells nothing', async () => {
    const ask = (filter: string, filterMode = COLLAPSE) => alice.getLineage({ jobId: 'lf-shared', direction: DESCENDANTS, view: LineageView.LINEAGE_VIEW_BASIC, filter, filterMode });
    const unfiltered = await ask('');
    expect(unfiltered.nodes.map((n) => n.restricted)).to.deep.equal([true, false]);
    const collapsed = await ask('type = "kept"');
    expect(collapsed.nodes.map((n) => [n.jobId, n.depth])).to.deep.equal([['lf-visible', 2]]);
    expect(collapsed.edges).to.deep.equal([{ parentJobId: 'lf-shared', childJobId: 'lf-visible' }]);
    expect(collapsed.hiddenNodeCount).to.equal(0);
    const pruned = await ask('type = "kept"', PRUNE);
    expect([pruned.nodes, pruned.edges]).to.deep.equal([[], []]);
    // The hidden job's own type and label select exactly what a value no job has does.
    for (const mode of [COLLAPSE, PRUNE]) {
      const missing = JSON.stringify(await ask('type = "no-such-type"', mode));
      expect(JSON.stringify(await ask('type = "secret-type"', mode))).to.equal(missing);
      expect(JSON.stringify(await ask('labels.team = "secret"', mode))).to.equal(JSON.stringify(await ask('labels.team = "no-such-team"', mode)));
    }
    // The root is returned even when it does not match.
    expect((await ask('type = "no-such-type"')).root!.jobId).to.equal('lf-shared');
  });

  it('caps a hub nearest first (by job id) and says per node how many it left out', async () => {
    const answer = await alice.getLineage({ jobId: 'lf-hub', direction: DESCENDANTS, view: LineageView.LINEAGE_VIEW_IDS, maxChildrenPerNode: 10 });
    expect(answer.nodes.map((n) => n.jobId)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `lf-child-${String(i).padStart(2, '0')}`));
    expect([answer.root!.omittedChildCount, answer.root!.omittedParentCount]).to.deep.equal([40, 0]);
    expect(answer.truncationReasons).to.deep.equal([TruncationReason.TRUNCATION_REASON_FAN_OUT]);
    // With a filter, the cap counts the children that match.
    const odd = await alice.getLineage({ jobId: 'lf-hub', direction: DESCENDANTS, view: LineageView.LINEAGE_VIEW_IDS, filter: 'type = "odd"', maxChildrenPerNode: 10 });
    expect(odd.nodes.map((n) => n.jobId)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `lf-child-${String(2 * i + 1).padStart(2, '0')}`));
    expect(odd.root!.omittedChildCount).to.equal(15);
    // The compact view carries the same counts.
    const graph = await alice.getLineageGraph({ jobId: 'lf-hub', direction: DESCENDANTS, maxChildrenPerNode: 10 });
    expect([graph.compact.fanOutTruncatedIndexes, graph.compact.fanOutOmittedCounts]).to.deep.equal([[0], [40, 0]]);
    // The REST twin takes the same query parameters.
    const rest = await restCall(
      server.httpAddress,
      'GET',
      `/jobs/lf-hub/lineage?direction=LINEAGE_DIRECTION_DESCENDANTS&view=LINEAGE_VIEW_IDS&filter=${encodeURIComponent('type = "odd"')}&filter_mode=LINEAGE_FILTER_MODE_PRUNE&max_children_per_node=10`,
      undefined,
      aliceHeader,
    );
    expect(rest.status).to.equal(200);
    const body = rest.body as { root: { omittedChildCount: number }; nodes: unknown[]; truncationReasons: string[] };
    expect([body.root.omittedChildCount, body.nodes.length, body.truncationReasons]).to.deep.equal([15, 10, ['TRUNCATION_REASON_FAN_OUT']]);
    const exported = await restCall(server.httpAddress, 'GET', `/jobs/lf-hub/export?direction=LINEAGE_DIRECTION_DESCENDANTS&max_children_per_node=5`, undefined, aliceHeader);
    expect((exported.body as { fanOutTruncations: unknown[] }).fanOutTruncations).to.deep.equal([{ jobId: 'lf-hub', omittedChildCount: 45 }]);
  });

  it('binds resume tokens to the filter, the mode and the caps', async () => {
    const request = { jobId: 'lf-hub', direction: DESCENDANTS, filter: 'type = "even"', filterMode: PRUNE, maxChildrenPerNode: 20, maxMessageNodes: 4 };
    const messages = await allMessages(alice, request);
    expect(messages.flatMap((m) => m.nodes)).to.have.length(20);
    const token = messages[1]!.resumeToken;
    const rest = await allMessages(alice, { ...request, resumeToken: token });
    expect(rest.flatMap((m) => m.nodes).map((n) => n.jobId)).to.deep.equal(messages.slice(2).flatMap((m) => m.nodes).map((n) => n.jobId));
    for (const changed of [{ filter: 'type = "odd"' }, { filterMode: COLLAPSE }, { maxChildrenPerNode: 21 }, { maxParentsPerNode: 1 }]) {
      const error = await refusal(allMessages(alice, { ...request, ...changed, resumeToken: token }));
      expect(error.code, JSON.stringify(changed)).to.equal(status.INVALID_ARGUMENT);
      expect(statusDetails(error).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['resume_token']);
    }
  });
});
