import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus, LineageDirection, LineageView, ReproducibilityIssueReason, StartPosition, type Job } from '@provenance/client';
import { opaqueJobId } from '../../src/domain/access.js';
import { inputHash } from '../../src/domain/hashing.js';
import { bearerTokens } from '../support/bearer-tokens.js';
import { makeTemporaryDirectory, type TemporaryDirectory } from '../support/credentials.js';
import { FAST_EXECUTION, waitForJob } from '../support/execution.js';
import { collectEvents, connect, decodeStatus, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { openEventStream, restCall } from '../support/rest.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const SUCCEEDED = JobStatus.JOB_STATUS_SUCCEEDED;

/**
 * Ids of jobs the caller may not read, inside records it may read (issue
 * #13, item 4), values computed from them (item 6), and refusals that told a
 * hidden parent from a missing one (item 7); each through gRPC and its REST
 * twin, on one server: acme's olga and carl, globex's bob. bob shares some
 * jobs with olga, none with carl.
 */
describe('hidden ids (issue #13, items 4, 6 and 7)', function () {
  this.timeout(90_000);
  const tokens = bearerTokens();
  // Known to the test, so that it can tell which placeholder each hidden job must be shown as.
  const secret = randomBytes(32).toString('hex');
  const placeholder = (jobId: string) => opaqueJobId(jobId, Buffer.from(secret, 'utf8'));
  const run = randomBytes(4).toString('hex');
  let directory: TemporaryDirectory;
  let server: ServerProcess;
  let olga: Client, carl: Client, bob: Client;
  const headers = {
    olga: () => tokens.header('olga', 'acme', ['submitter']),
    carl: () => tokens.header('carl', 'acme', ['submitter']),
    bob: () => tokens.header('bob', 'globex', ['submitter']),
  };
  const rest = async (who: keyof typeof headers, method: string, path: string, body?: unknown) => restCall(server.httpAddress, method, path, body, await headers[who]());
  /** Which of the ids occur in the answer. */
  const named = (answer: unknown, ids: readonly string[]) => ids.filter((id) => JSON.stringify(answer).includes(id));

  before(async () => {
    directory = await makeTemporaryDirectory();
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory.path, 'provenance.db'), ...FAST_EXECUTION, ...tokens.env, PROVENANCE_SECRET: secret, PROVENANCE_RATE_LIMIT: '0' });
    [olga, carl, bob] = await Promise.all([
      headers.olga().then((h) => connect(server.address, { headers: h })),
      headers.carl().then((h) => connect(server.address, { headers: h })),
      tokens.header('bob', 'globex', ['submitter']).then((h) => connect(server.address, { headers: h })),
    ]);
  });
  after(async () => {
    for (const client of [olga, carl, bob]) client?.close();
    await server?.stop();
    await directory?.remove();
  });

  describe('item 4: a readable record names a hidden job by its placeholder only', () => {
    /** bob's: a result, and the same job again served from it (shared with olga); a long job shared with olga, which he cancels. */
    let source: Job, cached: Job, nap: Job;
    /** olga's: waits on bob's long job, and fails with DEPENDENCY_FAILED when he cancels it. */
    let waiting: Job;

    before(async () => {
      source = await waitForJob(bob, (await bob.submitJob({ jobId: `globex-source-${run}`, type: 'echo', payload: { text: `cached-${run}` } })).jobId);
      cached = await waitForJob(bob, (await bob.submitJob({ jobId: `globex-cached-${run}`, type: 'echo', payload: { text: `cached-${run}` }, readerSubjects: ['acme/olga'] })).jobId);
      nap = await bob.submitJob({ jobId: `globex-nap-${run}`, type: 'sleep', payload: { ms: 60_000 }, readerSubjects: ['acme/olga'] });
      waiting = await olga.submitJob({ jobId: `acme-waiting-${run}`, type: 'echo', parentJobIds: [nap.jobId], labels: { run } });
      await bob.cancelJob({ jobId: nap.jobId });
      waiting = await waitForJob(olga, waiting.jobId);
    });

    it('shows the real ids to those who may read the jobs they name', () => {
      expect(cached.result).to.deep.include({ cached: true, cachedFromJobId: source.jobId });
      expect(waiting.error).to.deep.equal({ reason: 'DEPENDENCY_FAILED', message: `job ${nap.jobId}, which this job depends on, was cancelled`, dependencyJobId: nap.jobId });
    });

    it('GetJob, ListJobs, GetLineage FULL and ExportProvenanceGraph NATIVE: parents, cached-from and the dependency error under placeholders', async () => {
      const hiddenNap = placeholder(nap.jobId);
      const expected = {
        parentJobIds: [hiddenNap],
        error: { reason: 'DEPENDENCY_FAILED', message: `job ${hiddenNap}, which this job depends on, did not succeed`, dependencyJobId: hiddenNap },
      };
      const got = await carl.getJob({ jobId: waiting.jobId });
      expect(got).to.deep.include(expected);
      const [listed] = (await carl.listJobs({ filter: `labels.run = "${run}"` })).jobs;
      expect(listed).to.deep.equal(got);
      const lineage = await carl.getLineage({ jobId: waiting.jobId, view: LineageView.LINEAGE_VIEW_FULL });
      expect(lineage.root!.job).to.deep.equal(got);
      expect(lineage.nodes.map((node) => [node.jobId, node.restricted])).to.deep.equal([[hiddenNap, true]]);
      const exported = await carl.exportProvenanceGraph({ jobId: waiting.jobId });
      expect(exported.jobs[0]).to.deep.equal(got);
      for (const answer of [got, listed, lineage, exported]) expect(named(answer, [nap.jobId])).to.deep.equal([]);

      const fromCache = await olga.getJob({ jobId: cached.jobId });
      expect(fromCache.result).to.deep.include({ cached: true, cachedFromJobId: placeholder(source.jobId) });
      expect(named(fromCache, [source.jobId])).to.deep.equal([]);
    });

    it('REST: GET /jobs/:id/provenance, /jobs, /jobs/:id/lineage and /jobs/:id/export answer the same', async () => {
      const answers = [
        await rest('carl', 'GET', `/jobs/${waiting.jobId}/provenance`),
        await rest('carl', 'GET', `/jobs?filter=${encodeURIComponent(`labels.run = "${run}"`)}`),
        await rest('carl', 'GET', `/jobs/${waiting.jobId}/lineage?view=LINEAGE_VIEW_FULL`),
        await rest('carl', 'GET', `/jobs/${waiting.jobId}/export`),
      ];
      expect(answers.map((answer) => answer.status)).to.deep.equal([200, 200, 200, 200]);
      const job = answers[0]!.body as { parentJobIds: string[]; error: { dependencyJobId: string; message: string } };
      expect(job.parentJobIds).to.deep.equal([placeholder(nap.jobId)]);
      expect(job.error.dependencyJobId).to.equal(placeholder(nap.jobId));
      for (const answer of answers) expect(named(answer.text, [nap.jobId])).to.deep.equal([]);
      const fromCache = await rest('olga', 'GET', `/jobs/${cached.jobId}/provenance`);
      expect((fromCache.body as { result: { cachedFromJobId: string } }).result.cachedFromJobId).to.equal(placeholder(source.jobId));
      expect(named(fromCache.text, [source.jobId])).to.deep.equal([]);
    });

    it('WatchEvents and GET /events: the same placeholders in every event', async () => {
      // waiting: submitted, created, failed, completed; cached: submitted, created, started, cached, completed.
      const grpcStreams = [carl.events({ jobIds: [waiting.jobId], startPosition: StartPosition.START_POSITION_OLDEST }), olga.events({ jobIds: [cached.jobId], startPosition: StartPosition.START_POSITION_OLDEST })];
      const [carlsEvents, olgasEvents] = await Promise.all([collectEvents(grpcStreams[0]!, 4), collectEvents(grpcStreams[1]!, 5)]);
      for (const stream of grpcStreams) stream.cancel();
      expect(carlsEvents.events.map((event) => event.parentJobIds)).to.deep.equal(Array(4).fill([placeholder(nap.jobId)]));
      const failedEvent = carlsEvents.events.find((event) => event.type === 'compute.job.failed')!;
      expect(failedEvent.error).to.deep.equal({ reason: 'DEPENDENCY_FAILED', message: `job ${placeholder(nap.jobId)}, which this job depends on, did not succeed`, dependencyJobId: placeholder(nap.jobId) });
      expect(olgasEvents.events.find((event) => event.type === 'compute.job.cached')!.cachedFromJobId).to.equal(placeholder(source.jobId));
      expect(named(carlsEvents, [nap.jobId])).to.deep.equal([]);
      expect(named(olgasEvents, [source.jobId])).to.deep.equal([]);

      const sse = await openEventStream(server.httpAddress, `/events?job_ids=${waiting.jobId}&start_position=START_POSITION_OLDEST`, await headers.carl());
      const sent = await sse.next(4);
      sse.close();
      expect(sent.map((event) => (event.data as { event: { parentJobIds: string[] } }).event.parentJobIds)).to.deep.equal(Array(4).fill([placeholder(nap.jobId)]));
      expect(named(sent, [nap.jobId])).to.deep.equal([]);
    });

    it('a refused cycle names the hidden job it runs through by its placeholder, over gRPC and REST', async () => {
      // bob's job names an id nobody holds yet and is shared with olga, who builds on it; carl then records that id on olga's job.
      const future = `acme-future-${run}`;
      const through = await bob.recordJob({ jobId: `globex-through-${run}`, type: 'etl', status: SUCCEEDED, outputHash: 'h', parentJobIds: [future], allowMissingParents: true, readerSubjects: ['acme/olga'] });
      const built = await olga.recordJob({ jobId: `acme-built-${run}`, type: 'etl', status: SUCCEEDED, outputHash: 'h', parentJobIds: [through.jobId] });
      const closing = { jobId: future, type: 'etl', status: SUCCEEDED, outputHash: 'h', parentJobIds: [built.jobId] };
      const path = [future, placeholder(through.jobId), built.jobId, future].join(' → ');
      const refused = await failure(carl.recordJob(closing));
      expect(refused.code).to.equal(status.FAILED_PRECONDITION);
      expect(refused.details).to.equal(`recording job ${future} with these parents would close a cycle: ${path}`);
      expect(statusDetails(refused).preconditionFailure?.violations).to.deep.equal([{ type: 'LINEAGE_CYCLE', subject: `jobs/${future}`, description: path }]);
      const viaRest = await rest('carl', 'POST', '/jobs:record', { ...closing, status: 'JOB_STATUS_SUCCEEDED' });
      expect(viaRest.status).to.equal(400);
      expect(viaRest.text).to.contain(path);
      expect(named([refused.details, refused.metadata.getMap(), viaRest.text], [through.jobId])).to.deep.equal([]);
    });

    it('a SubmitJob refused because the store found a cycle names the hidden job on it by its placeholder too', async () => {
      // SubmitJob has no early check: the path comes from the store, which walks jobs of every tenant.
      const future = `acme-future-submit-${run}`;
      const through = await bob.recordJob({ jobId: `globex-through-submit-${run}`, type: 'etl', status: SUCCEEDED, outputHash: 'h', parentJobIds: [future], allowMissingParents: true, readerSubjects: ['acme/olga'] });
      const built = await olga.recordJob({ jobId: `acme-built-submit-${run}`, type: 'etl', status: SUCCEEDED, outputHash: 'h', parentJobIds: [through.jobId] });
      const refused = await failure(carl.submitJob({ jobId: future, type: 'echo', parentJobIds: [built.jobId] }));
      expect(refused.code).to.equal(status.FAILED_PRECONDITION);
      expect(refused.details).to.equal(`recording job ${future} with these parents would close a cycle: ${[future, placeholder(through.jobId), built.jobId, future].join(' → ')}`);
      expect(named([refused.details, refused.metadata.getMap()], [through.jobId])).to.deep.equal([]);
    });
  });

  describe('item 6: no value computed from a hidden job', () => {
    it("CheckReproducibility does not recompute an input hash from a hidden parent's output hash, over gRPC and REST", async () => {
      // olga names a parent nobody holds yet; globex records a job under that id later, with an output hash olga must not learn.
      const later = `globex-later-${run}`;
      const job = await olga.recordJob({ jobId: `acme-early-${run}`, type: 'echo', status: SUCCEEDED, outputHash: 'h', parentJobIds: [later], allowMissingParents: true });
      const hiddenOutput = `sha256:${randomBytes(16).toString('hex')}`;
      await bob.recordJob({ jobId: later, type: 'etl', status: SUCCEEDED, outputHash: hiddenOutput });
      const derived = inputHash(job.definitionHash, [{ jobId: later, outputHash: hiddenOutput }]);

      const report = await olga.checkReproducibility({ jobId: job.jobId });
      expect(report.issues.map((issue) => [ReproducibilityIssueReason[issue.reason], issue.jobId])).to.deep.equal([['REPRODUCIBILITY_ISSUE_REASON_INPUTS_INCOMPLETE', placeholder(later)]]);
      const viaRest = await rest('olga', 'GET', `/jobs/${job.jobId}/reproducible`);
      expect(viaRest.status).to.equal(200);
      for (const answer of [report, viaRest.text]) expect(named(answer, [derived, hiddenOutput])).to.deep.equal([]);
    });
  });

  describe('page and resume tokens: their length tells nothing of the id they end on', () => {
    it('ListDependents (gRPC and REST) and StreamLineage give tokens of one length, whether they end on a readable job or a placeholder of a long id', async () => {
      // bob's root, shared with olga; under it, bob's len-a and len-c, and olga's long-named and short-named children, which bob sees as placeholders after his.
      const root = await bob.recordJob({ jobId: `len-root-${run}`, type: 'etl', status: SUCCEEDED, outputHash: 'h', readerSubjects: ['acme/olga'] });
      const child = (api: Client, jobId: string) => api.recordJob({ jobId, type: 'etl', status: SUCCEEDED, outputHash: 'h', parentJobIds: [root.jobId] });
      await child(bob, `len-a-${run}`);
      const hidden = [await child(olga, `len-b-${run}-`.padEnd(128, 'much-longer-hidden-identifier-')), await child(olga, `len-e-${run}`)];
      await child(bob, `len-c-${run}`);

      const pages = await Promise.all([1, 3].map((pageSize) => bob.listDependents({ jobId: root.jobId, pageSize })));
      expect(pages[1]!.dependents.at(-1)?.job).to.deep.include({ restricted: true });
      expect(hidden.map((job) => placeholder(job.jobId))).to.include(pages[1]!.dependents.at(-1)?.job?.jobId);
      const restPages = await Promise.all([1, 3].map((pageSize) => rest('bob', 'GET', `/jobs/${root.jobId}/dependents?page_size=${pageSize}`)));
      const restTokens = restPages.map((answer) => (answer.body as { nextPageToken: string }).nextPageToken);
      const streams = await Promise.all(
        [1, 3].map(async (maxMessageNodes) => {
          const tokens: string[] = [];
          for await (const message of bob.streamLineage({ jobId: root.jobId, direction: LineageDirection.LINEAGE_DIRECTION_DESCENDANTS, maxMessageNodes })) tokens.push(message.resumeToken);
          return tokens;
        }),
      );
      const tokenLengths = [...pages.map((page) => page.nextPageToken), ...restTokens, ...streams.flat()].map((token) => token.length);
      expect(tokenLengths.every((length) => length > 0 && length === tokenLengths[0])).to.equal(true, `token lengths ${tokenLengths.join(', ')}`);
    });
  });

  describe('item 7: a hidden parent is refused exactly as a missing one', () => {
    /** The answer with the id swapped for X: the status, its message and the bytes of its details. */
    const asBytes = (error: ServiceError, jobId: string) => ({
      code: error.code,
      message: error.details.replaceAll(jobId, 'X'),
      details: Buffer.from(error.metadata.get('grpc-status-details-bin')[0] as Buffer)
        .toString('latin1')
        .replaceAll(jobId, 'X'),
    });

    it('RecordJob, BatchRecordJobs and SubmitJob: the same status, words and details, over gRPC and REST', async () => {
      // Ids of one length, so that the answers can be compared byte for byte once the id is swapped.
      const hidden = await bob.recordJob({ jobId: `globex-hidden-${run}`, type: 'etl', status: SUCCEEDED, outputHash: 'h' });
      const missing = `globex-absent-${run}`;
      expect(missing).to.have.length(hidden.jobId.length);
      const record = (parent: string) => ({ type: 'etl', status: SUCCEEDED, outputHash: 'h', parentJobIds: [parent] });

      const [recordHidden, recordMissing] = [await failure(carl.recordJob(record(hidden.jobId))), await failure(carl.recordJob(record(missing)))];
      expect(recordMissing.code).to.equal(status.FAILED_PRECONDITION);
      expect(asBytes(recordHidden, hidden.jobId)).to.deep.equal(asBytes(recordMissing, missing));
      const [submitHidden, submitMissing] = [await failure(carl.submitJob({ type: 'echo', parentJobIds: [hidden.jobId] })), await failure(carl.submitJob({ type: 'echo', parentJobIds: [missing] }))];
      expect(asBytes(submitHidden, hidden.jobId)).to.deep.equal(asBytes(submitMissing, missing));
      const [batchHidden, batchMissing] = (await carl.batchRecordJobs({ requests: [record(hidden.jobId), record(missing)] })).results.map((result) => JSON.stringify(decodeStatus(result.status!)));
      expect(batchHidden!.replaceAll(hidden.jobId, 'X')).to.equal(batchMissing!.replaceAll(missing, 'X'));

      const [restHidden, restMissing] = [
        await rest('carl', 'POST', '/jobs:record', { ...record(hidden.jobId), status: 'JOB_STATUS_SUCCEEDED' }),
        await rest('carl', 'POST', '/jobs:record', { ...record(missing), status: 'JOB_STATUS_SUCCEEDED' }),
      ];
      expect(restMissing.status).to.equal(400);
      expect(restHidden.status).to.equal(restMissing.status);
      expect(restHidden.text.replaceAll(hidden.jobId, 'X')).to.equal(restMissing.text.replaceAll(missing, 'X'));
    });
  });
});
