import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { CachePolicy, CacheState, JobOrigin, JobStatus, StartPosition, type Job } from '@provenance/client';
import { bearerTokens } from '../support/bearer-tokens.js';
import { makeTemporaryDirectory, type TemporaryDirectory } from '../support/credentials.js';
import { FAST_EXECUTION, Trace, waitForJob } from '../support/execution.js';
import { collectEvents, collectEventsUntil, connect, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { restCall, type RestAnswer } from '../support/rest.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/waits.js';

const { JOB_STATUS_RUNNING: RUNNING, JOB_STATUS_SUCCEEDED: SUCCEEDED } = JobStatus;

interface ErrorBody {
  error: { code: number; message: string; status: string; details: Array<Record<string, unknown>> };
}

/**
 * Who may move, share, invalidate and read what (docs/access-model.md),
 * through gRPC and through its REST twin, on one server with bearer tokens:
 * acme's olga (the owner), carl (a colleague) and ada (an admin); globex's
 * bob and gina (an admin); a ci-bot in each of acme, globex and initech.
 */
describe('access model', function () {
  this.timeout(60_000);
  const tokens = bearerTokens();
  let directory: TemporaryDirectory;
  let server: ServerProcess;
  let trace: Trace;
  const clients: Client[] = [];
  let olga: Client, carl: Client, ada: Client, bob: Client, gina: Client;
  const headers = {
    olga: () => tokens.header('olga', 'acme', ['submitter']),
    carl: () => tokens.header('carl', 'acme', ['submitter']),
    ada: () => tokens.header('ada', 'acme', ['admin']),
    bob: () => tokens.header('bob', 'globex', ['submitter']),
  };
  const as = async (subject: string, tenant: string, roles: string[]): Promise<Client> => {
    const client = connect(server.address, { headers: await tokens.header(subject, tenant, roles) });
    clients.push(client);
    return client;
  };
  const rest = async (who: keyof typeof headers, method: string, path: string, body?: unknown) => restCall(server.httpAddress, method, path, body, await headers[who]());
  /** A fresh job id: each test makes jobs of its own. */
  let made = 0;
  const id = (name: string) => `${name}-${++made}`;

  before(async () => {
    directory = await makeTemporaryDirectory();
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory.path, 'provenance.db'), ...FAST_EXECUTION, ...tokens.env, PROVENANCE_RATE_LIMIT: '0' });
    trace = new Trace();
    [olga, carl, ada, bob, gina] = await Promise.all([
      as('olga', 'acme', ['submitter']),
      as('carl', 'acme', ['submitter']),
      as('ada', 'acme', ['admin']),
      as('bob', 'globex', ['submitter']),
      as('gina', 'globex', ['admin']),
    ]);
  });
  after(async () => {
    for (const client of clients) client.close();
    trace?.dispose();
    await server?.stop();
    await directory?.remove();
  });

  const recorded = (api: Client, jobId: string, fields: Partial<Parameters<Client['recordJob']>[0]> = {}) =>
    api.recordJob({ jobId, type: 'etl', payload: { step: jobId }, status: SUCCEEDED, outputHash: `sha256:${jobId}`, ...fields });
  const reason = (error: ServiceError) => statusDetails(error).errorInfo?.reason;

  describe('moving a record forward and sharing it (issue #13, item 1)', () => {
    it("refuses a colleague's forged outcome and sharing with PERMISSION_DENIED, one at a time and in a batch, and changes nothing", async () => {
      const jobId = id('running');
      const running = await recorded(olga, jobId, { status: RUNNING, outputHash: '' });
      const forged = { jobId, type: 'etl', payload: { step: jobId }, status: SUCCEEDED, outputHash: 'sha256:forged' };
      const refused = await failure(carl.recordJob(forged));
      expect(refused.code).to.equal(status.PERMISSION_DENIED);
      expect(refused.details).to.contain("is for the job's owner or an admin of its tenant");
      const shared = await failure(carl.recordJob({ ...forged, outputHash: 'sha256:ok', readerSubjects: ['globex/bob'] }));
      expect(shared.code).to.equal(status.PERMISSION_DENIED);
      const batch = await carl.batchRecordJobs({ requests: [forged] });
      expect(batch.results[0]!.status?.code).to.equal(status.PERMISSION_DENIED);
      expect(await olga.getJob({ jobId })).to.deep.equal(running);
      expect((await failure(bob.getJob({ jobId }))).code).to.equal(status.NOT_FOUND);

      // An admin of the tenant moves it forward, but only the owner shares it.
      const sharing = await failure(ada.recordJob({ ...forged, outputHash: 'sha256:real', readerSubjects: ['globex/bob'] }));
      expect(sharing.code).to.equal(status.PERMISSION_DENIED);
      expect(sharing.details).to.equal(`changing who may read job ${jobId} is for its owner`);
      const moved = await ada.recordJob({ ...forged, outputHash: 'sha256:real' });
      expect(moved).to.deep.include({ status: SUCCEEDED, owner: 'olga', readerSubjects: [] });
      expect(moved.result?.outputHash).to.equal('sha256:real');

      const owned = id('owned');
      await recorded(olga, owned, { status: RUNNING, outputHash: '' });
      const sharedByOwner = await recorded(olga, owned, { readerSubjects: ['globex/bob'] });
      expect(sharedByOwner.readerSubjects).to.deep.equal(['globex/bob']);
      expect((await bob.getJob({ jobId: owned })).jobId).to.equal(owned);
      // bob may read it, so he is told he may not move it.
      expect((await failure(bob.recordJob({ jobId: owned, type: 'etl', payload: { step: owned }, status: SUCCEEDED, outputHash: 'sha256:bob' }))).code).to.equal(
        status.PERMISSION_DENIED,
      );
    });

    it('keeps a submitted job the worker pool’s: no RecordJob moves it, its owner’s neither, and what waits on it keeps waiting', async () => {
      const nap = id('nap');
      await olga.submitJob({ jobId: nap, type: 'sleep', payload: { ms: 60_000 } });
      const afterNap = await olga.submitJob({ jobId: id('after-nap'), type: 'echo', parentJobIds: [nap] });
      const forged = { jobId: nap, type: 'sleep', payload: { ms: 60_000 }, status: SUCCEEDED, outputHash: 'sha256:forged' };
      expect((await failure(carl.recordJob(forged))).code).to.equal(status.PERMISSION_DENIED);
      for (const api of [olga, ada]) {
        const refused = await failure(api.recordJob(forged));
        expect(refused.code).to.equal(status.FAILED_PRECONDITION);
        expect(reason(refused)).to.equal('NOT_RECORDABLE');
        expect(statusDetails(refused).preconditionFailure?.violations).to.deep.equal([
          { type: 'NOT_RECORDABLE', subject: `jobs/${nap}`, description: 'it was submitted: the worker pool records its outcome' },
        ]);
      }
      const job = await olga.getJob({ jobId: nap });
      expect(job.status).to.not.equal(SUCCEEDED);
      expect(job.origin).to.equal(JobOrigin.JOB_ORIGIN_SUBMITTED);
      expect(job.result).to.equal(undefined);
      expect((await olga.getJob({ jobId: afterNap.jobId })).status).to.equal(JobStatus.JOB_STATUS_WAITING);
      await olga.cancelJob({ jobId: nap });
    });

    it("starts another caller's rerun of a shared job without the owner's grants, and keeps them on the owner's", async () => {
      const original = await waitForJob(olga, (await olga.submitJob({ jobId: id('shared-echo'), type: 'echo', payload: { text: 'x' }, readerSubjects: ['globex/bob', 'initech/eve'] })).jobId);
      const bobsRerun = await bob.rerunJob({ jobId: original.jobId });
      expect(bobsRerun).to.deep.include({ tenant: 'globex', owner: 'bob', readerSubjects: [] });
      expect((await olga.rerunJob({ jobId: original.jobId })).readerSubjects).to.deep.equal(['globex/bob', 'initech/eve']);
    });

    it('answers replays of the same request as before', async () => {
      const jobId = id('replayed');
      const request = { jobId, requestId: `${jobId}-request`, type: 'etl', payload: { step: jobId }, status: SUCCEEDED, outputHash: 'sha256:r', readerSubjects: ['globex/bob'] };
      const first = await olga.recordJob(request);
      expect(await olga.recordJob(request)).to.deep.equal(first);
      const { requestId: _requestId, ...withoutRequestId } = request;
      expect(await olga.recordJob(withoutRequestId)).to.deep.equal(first);
      // The request_id is the tenant's: a colleague retrying it gets the job it made.
      expect(await carl.recordJob(request)).to.deep.equal(first);
    });

    it('answers a caller who may not read the job exactly as for any job id of another tenant, whatever the job', async () => {
      // Ids of one length, so that the answers can be compared byte for byte once the id is swapped.
      const [recordedId, submittedId] = ['acme-hidden-rec', 'acme-hidden-sub'];
      await recorded(olga, recordedId, { status: RUNNING, outputHash: '' });
      await olga.submitJob({ jobId: submittedId, type: 'sleep', payload: { ms: 60_000 } });
      const taken = (jobId: string) => `job id ${jobId} is taken; choose another (job ids are global: prefixing them with your tenant avoids clashes)`;
      const answers = [
        // A different job under a taken id: the answer before issue #13 as now.
        await failure(bob.recordJob({ jobId: recordedId, type: 'other', status: SUCCEEDED, outputHash: 'sha256:x' })),
        await failure(bob.recordJob({ jobId: recordedId, type: 'etl', payload: { step: recordedId }, status: SUCCEEDED, outputHash: 'sha256:forged' })),
        await failure(bob.recordJob({ jobId: submittedId, type: 'sleep', payload: { ms: 60_000 }, status: SUCCEEDED, outputHash: 'sha256:forged' })),
      ];
      const asBytes = (error: ServiceError, jobId: string) => ({
        code: error.code,
        message: error.details.replace(jobId, 'X'),
        trailer: Buffer.from(error.metadata.get('grpc-status-details-bin')[0] as Buffer).toString('latin1').replace(jobId, 'X'),
      });
      const [before, ...now] = [asBytes(answers[0]!, recordedId), asBytes(answers[1]!, recordedId), asBytes(answers[2]!, submittedId)];
      expect(before.code).to.equal(status.ALREADY_EXISTS);
      expect(answers[0]!.details).to.equal(taken(recordedId));
      for (const answer of now) expect(answer).to.deep.equal(before);

      const batch = await bob.batchRecordJobs({ requests: [{ jobId: submittedId, type: 'sleep', payload: { ms: 60_000 }, status: SUCCEEDED, outputHash: 'sha256:forged' }] });
      expect(batch.results[0]!.status).to.deep.include({ code: status.ALREADY_EXISTS, message: taken(submittedId) });

      // REST: the same body, byte for byte, whatever the job.
      const restAnswers = [
        await rest('bob', 'POST', '/jobs:record', { jobId: recordedId, type: 'other', status: 'JOB_STATUS_SUCCEEDED', outputHash: 'sha256:x' }),
        await rest('bob', 'POST', '/jobs:record', { jobId: submittedId, type: 'sleep', payload: { ms: 60_000 }, status: 'JOB_STATUS_SUCCEEDED', outputHash: 'sha256:forged' }),
      ];
      expect(restAnswers.map((answer) => answer.status)).to.deep.equal([409, 409]);
      expect(restAnswers[1]!.text.replace(submittedId, 'X')).to.equal(restAnswers[0]!.text.replace(recordedId, 'X'));
      await olga.cancelJob({ jobId: submittedId });
    });

    it('REST: POST /jobs:record and /jobs:batchRecord refuse the same as their gRPC twins', async () => {
      const jobId = id('rest-running');
      await recorded(olga, jobId, { status: RUNNING, outputHash: '' });
      const forged = { jobId, type: 'etl', payload: { step: jobId }, status: 'JOB_STATUS_SUCCEEDED', outputHash: 'sha256:forged' };
      const refused = await rest('carl', 'POST', '/jobs:record', forged);
      expect(refused.status).to.equal(403);
      expect((refused.body as ErrorBody).error.status).to.equal('PERMISSION_DENIED');
      const batch = await rest('carl', 'POST', '/jobs:batchRecord', { requests: [forged] });
      expect(batch.status).to.equal(200);
      expect((batch.body as { results: Array<{ status: { code: number } }> }).results[0]!.status.code).to.equal(status.PERMISSION_DENIED);
      const sharing = await rest('ada', 'POST', '/jobs:record', { ...forged, outputHash: 'sha256:real', readerSubjects: ['globex/bob'] });
      expect(sharing.status).to.equal(403);
      expect((await olga.getJob({ jobId })).status).to.equal(RUNNING);

      const nap = id('rest-nap');
      await olga.submitJob({ jobId: nap, type: 'sleep', payload: { ms: 60_000 } });
      const submitted = await rest('olga', 'POST', '/jobs:record', { jobId: nap, type: 'sleep', payload: { ms: 60_000 }, status: 'JOB_STATUS_SUCCEEDED', outputHash: 'sha256:forged' });
      expect(submitted.status).to.equal(400);
      expect((submitted.body as ErrorBody).error).to.deep.include({ status: 'FAILED_PRECONDITION' });
      expect((submitted.body as ErrorBody).error.details[0]).to.deep.include({ reason: 'NOT_RECORDABLE' });
      await olga.cancelJob({ jobId: nap });
    });
  });

  describe('making jobs STALE (issue #13, item 2)', () => {
    /**
     * A result of olga's with a dependent of each kind: olga's own, her
     * colleague carl's, and globex's bob's (she shared it with him).
     */
    async function resultWithDependents(submitted: boolean) {
      const payload = { trace: trace.path, family: id('family') };
      const root = submitted
        ? await waitForJob(olga, (await olga.submitJob({ type: 'test.counter', payload, readerSubjects: ['globex/bob'] })).jobId)
        : await recorded(olga, id('root'), { readerSubjects: ['globex/bob'] });
      expect(root.status).to.equal(SUCCEEDED);
      const [own, colleagues, foreign] = [
        await recorded(olga, id('own'), { parentJobIds: [root.jobId] }),
        await recorded(carl, id('colleague'), { parentJobIds: [root.jobId] }),
        await recorded(bob, id('foreign'), { parentJobIds: [root.jobId] }),
      ];
      return { payload, root, own, colleagues, foreign };
    }
    const cacheStates = async (jobs: Job[], api: Client = ada) =>
      Promise.all(jobs.map(async (job) => CacheState[(await (job.tenant === 'globex' ? bob : api).getJob({ jobId: job.jobId })).cacheState]));
    /** A rerun's differential invalidation follows its SUCCEEDED write (one bulk update): once this job is STALE, the whole of it is done. */
    const invalidationReached = (job: Job) =>
      until(async () => (await ada.getJob({ jobId: job.jobId })).cacheState === CacheState.CACHE_STATE_STALE, `the rerun's invalidation to reach ${job.jobId}`);

    it("a rerun of someone else's result makes STALE only the rerunner's own dependents: no back door around InvalidateCache", async () => {
      const { payload, root, own, colleagues, foreign } = await resultWithDependents(true);
      expect((await failure(carl.invalidateCache({ jobId: root.jobId }))).code).to.equal(status.PERMISSION_DENIED);
      const rerun = await waitForJob(carl, (await carl.submitJob({ type: 'test.counter', payload, cachePolicy: CachePolicy.CACHE_POLICY_BYPASS })).jobId);
      expect(rerun.result?.outputHash).to.not.equal(root.result?.outputHash);
      await invalidationReached(colleagues);
      expect(await cacheStates([root, own, colleagues, foreign])).to.deep.equal(['CACHE_STATE_FRESH', 'CACHE_STATE_FRESH', 'CACHE_STATE_STALE', 'CACHE_STATE_FRESH']);
    });

    it("the owner's rerun makes STALE her dependents, not her colleague's nor another tenant's", async () => {
      const { root, own, colleagues, foreign } = await resultWithDependents(true);
      const rerun = await waitForJob(olga, (await olga.rerunJob({ jobId: root.jobId })).jobId);
      expect(rerun.result?.outputHash).to.not.equal(root.result?.outputHash);
      await invalidationReached(own);
      expect(await cacheStates([root, own, colleagues, foreign])).to.deep.equal(['CACHE_STATE_FRESH', 'CACHE_STATE_STALE', 'CACHE_STATE_FRESH', 'CACHE_STATE_FRESH']);
    });

    it('InvalidateCache makes STALE what the caller may, and names the dependents it left as they are', async () => {
      const { root, own, colleagues, foreign } = await resultWithDependents(false);
      const byOwner = await olga.invalidateCache({ jobId: root.jobId, dryRun: true });
      expect(byOwner.affectedJobIds).to.deep.equal([root.jobId, own.jobId]);
      expect(byOwner.skippedJobIds).to.have.length(2);
      expect(byOwner.skippedCount).to.equal(2);
      expect(byOwner.skippedJobIds).to.include(colleagues.jobId);
      const opaque = byOwner.skippedJobIds.find((skipped) => skipped !== colleagues.jobId)!;
      expect(opaque).to.match(/^restricted-[0-9a-f]{32}$/);

      const byAdmin = await ada.invalidateCache({ jobId: root.jobId });
      expect(byAdmin).to.deep.include({ affectedCount: 3, skippedJobIds: [opaque], skippedCount: 1, dryRun: false });
      expect([...byAdmin.affectedJobIds].sort()).to.deep.equal([root.jobId, own.jobId, colleagues.jobId].sort());
      expect(await cacheStates([root, own, colleagues, foreign])).to.deep.equal(['CACHE_STATE_STALE', 'CACHE_STATE_STALE', 'CACHE_STATE_STALE', 'CACHE_STATE_FRESH']);
    });

    it('REST: POST /jobs and /jobs/:id/invalidate-cache follow the same rule', async () => {
      const { payload, root, own, colleagues, foreign } = await resultWithDependents(true);
      const submitted = await rest('carl', 'POST', '/jobs', { type: 'test.counter', payload, cachePolicy: 'CACHE_POLICY_BYPASS' });
      expect(submitted.status).to.equal(200);
      await waitForJob(carl, (submitted.body as { jobId: string }).jobId);
      await invalidationReached(colleagues);
      expect(await cacheStates([root, own, colleagues, foreign])).to.deep.equal(['CACHE_STATE_FRESH', 'CACHE_STATE_FRESH', 'CACHE_STATE_STALE', 'CACHE_STATE_FRESH']);

      expect((await rest('carl', 'POST', `/jobs/${root.jobId}/invalidate-cache`, {})).status).to.equal(403);
      const invalidated = await rest('olga', 'POST', `/jobs/${root.jobId}/invalidate-cache`, {});
      expect(invalidated.status).to.equal(200);
      const answer = invalidated.body as { affectedJobIds: string[]; skippedJobIds: string[]; skippedCount: number };
      expect(answer.affectedJobIds).to.deep.equal([root.jobId, own.jobId]);
      expect(answer.skippedJobIds).to.include(colleagues.jobId).and.to.have.length(2);
      expect(answer.skippedCount).to.equal(2);
      expect(await cacheStates([root, own, colleagues, foreign])).to.deep.equal(['CACHE_STATE_STALE', 'CACHE_STATE_STALE', 'CACHE_STATE_STALE', 'CACHE_STATE_FRESH']);
    });
  });

  describe('reader grants name tenant and subject (issue #13, item 5)', () => {
    let acmeBot: Client, globexBot: Client, initechBot: Client;
    before(async () => {
      [acmeBot, globexBot, initechBot] = await Promise.all([as('ci-bot', 'acme', ['reader']), as('ci-bot', 'globex', ['reader']), as('ci-bot', 'initech', ['reader'])]);
    });

    it('refuses a bare subject as INVALID_ARGUMENT, on RecordJob and SubmitJob', async () => {
      for (const refused of [
        await failure(recorded(bob, id('bare'), { readerSubjects: ['globex/gina', 'ci-bot'] })),
        await failure(bob.submitJob({ type: 'echo', readerSubjects: ['ci-bot'] })),
        await failure(recorded(bob, id('no-subject'), { readerSubjects: ['initech/'] })),
      ]) {
        expect(refused.code).to.equal(status.INVALID_ARGUMENT);
        const [violation] = statusDetails(refused).badRequest!.fieldViolations;
        expect(violation!.field).to.match(/^reader_subjects\[[01]\]$/);
        expect(violation!.description).to.equal('must name a tenant and a subject as "tenant/subject"');
      }
      expect((await bob.listJobs({ filter: 'type = "etl"' })).jobs.map((job) => job.jobId).filter((jobId) => jobId.includes('bare'))).to.deep.equal([]);
    });

    it("lets the granted tenant's subject read the job, events included, and no namesake in another tenant", async () => {
      const shared = await recorded(bob, id('shared-with-initech'), { readerSubjects: ['initech/ci-bot'] });
      const child = await recorded(bob, id('child'), { parentJobIds: [shared.jobId] });
      // Something acme's ci-bot may read, recorded after: once its events arrived, those of the shared job would have too.
      const marker = await recorded(olga, id('marker'));
      expect((await initechBot.getJob({ jobId: shared.jobId })).payload).to.deep.equal(shared.payload);
      expect((await initechBot.listJobs({})).jobs.map((job) => job.jobId)).to.deep.equal([shared.jobId]);
      expect((await failure(acmeBot.getJob({ jobId: shared.jobId }))).code).to.equal(status.NOT_FOUND);
      expect((await acmeBot.listJobs({})).jobs.map((job) => job.jobId)).to.not.include(shared.jobId);
      const lineage = await initechBot.getLineage({ jobId: shared.jobId });
      expect(lineage.nodes.map((node) => node.restricted)).to.deep.equal([true]);
      expect((await globexBot.getJob({ jobId: child.jobId })).jobId).to.equal(child.jobId);

      const watched = [shared.jobId, marker.jobId];
      for (const [api, expected] of [
        [initechBot, shared],
        [acmeBot, marker],
      ] as const) {
        const stream = api.events({ jobIds: watched, startPosition: StartPosition.START_POSITION_OLDEST });
        const { events } = await collectEvents(stream, 3);
        stream.cancel();
        expect(events.map((event) => event.jobId)).to.deep.equal([expected.jobId, expected.jobId, expected.jobId]);
      }
    });

    it('REST: a bare subject is 400, and only the granted subject reads the job', async () => {
      const refused = await rest('bob', 'POST', '/jobs:record', { jobId: id('rest-bare'), type: 'etl', status: 'JOB_STATUS_SUCCEEDED', outputHash: 'h', readerSubjects: ['ci-bot'] });
      expect(refused.status).to.equal(400);
      const violations = (refused.body as ErrorBody).error.details.find((detail) => detail['@type'] === 'type.googleapis.com/google.rpc.BadRequest') as {
        fieldViolations: Array<{ field: string }>;
      };
      expect(violations.fieldViolations.map((violation) => violation.field)).to.deep.equal(['reader_subjects[0]']);
      const jobId = id('rest-shared');
      const shared = await rest('bob', 'POST', '/jobs:record', { jobId, type: 'etl', status: 'JOB_STATUS_SUCCEEDED', outputHash: 'h', readerSubjects: ['initech/ci-bot'] });
      expect(shared.status).to.equal(200);
      const read = async (tenant: string) => restCall(server.httpAddress, 'GET', `/jobs/${jobId}/provenance`, undefined, await tokens.header('ci-bot', tenant, ['reader']));
      expect((await read('initech')).status).to.equal(200);
      expect((await read('acme')).status).to.equal(404);
      const listed = await restCall(server.httpAddress, 'GET', '/jobs', undefined, await tokens.header('ci-bot', 'acme', ['reader']));
      expect(JSON.stringify(listed.body)).to.not.contain(jobId);
    });
  });

  describe('taking a grant back (SetReaderSubjects)', () => {
    it('lets only the owner set who may read a finished job; the grantee taken off reads it no more, nor its later events', async () => {
      const jobId = id('revoked');
      await recorded(olga, jobId, { readerSubjects: ['globex/bob'] });
      expect((await bob.getJob({ jobId })).jobId).to.equal(jobId);
      for (const api of [carl, ada]) {
        const refused = await failure(api.setReaderSubjects({ jobId, readerSubjects: [] }));
        expect(refused.code).to.equal(status.PERMISSION_DENIED);
        expect(refused.details).to.equal(`changing who may read job ${jobId} is for its owner`);
      }
      // bob may read it, and may not share it; gina may not read it, and is told it does not exist.
      expect((await failure(bob.setReaderSubjects({ jobId, readerSubjects: ['globex/gina'] }))).code).to.equal(status.PERMISSION_DENIED);
      expect(reason(await failure(gina.setReaderSubjects({ jobId, readerSubjects: ['globex/gina'] })))).to.equal('JOB_NOT_FOUND');

      const revoked = await olga.setReaderSubjects({ jobId, readerSubjects: [] });
      expect(revoked.readerSubjects).to.deep.equal([]);
      expect((await failure(bob.getJob({ jobId }))).code).to.equal(status.NOT_FOUND);
      expect((await bob.listJobs({})).jobs.map((job) => job.jobId)).to.not.include(jobId);
      await olga.invalidateCache({ jobId });
      // Recorded after the invalidation: once bob has its events, he would have had the invalidation's.
      const marker = await recorded(olga, id('marker'), { readerSubjects: ['globex/bob'] });
      const stream = bob.events({ jobIds: [jobId, marker.jobId], startPosition: StartPosition.START_POSITION_OLDEST });
      const { events } = await collectEventsUntil(stream, (seen) => seen.some((event) => event.jobId === marker.jobId), "the marker's first event");
      stream.cancel();
      // Those written while he was granted the job, and none after.
      expect(events.filter((event) => event.jobId === jobId).map((event) => event.type)).to.deep.equal(['job.provenance.created', 'compute.job.completed', 'job.provenance.completed']);

      const trail = (await ada.listAuditEvents({ filter: `job_id = "${jobId}"`, pageSize: 100 })).auditEvents.filter((entry) => entry.method.endsWith('/SetReaderSubjects'));
      expect(trail.map((entry) => [entry.subject, entry.outcome])).to.deep.equal([
        ['olga', 'OK'],
        ['ada', 'PERMISSION_DENIED'],
        ['carl', 'PERMISSION_DENIED'],
      ]);
    });

    it('REST: shares and takes back on POST /jobs/{id}:setReaderSubjects, conditional on an etag, and waits for a submitted job to finish', async () => {
      const jobId = id('rest-revoked');
      const job = await recorded(olga, jobId);
      const bobReads = async () => (await rest('bob', 'GET', `/jobs/${jobId}/provenance`)).status;
      const shared = await rest('olga', 'POST', `/jobs/${jobId}:setReaderSubjects`, { readerSubjects: ['globex/bob'], etag: job.etag });
      expect(shared.status).to.equal(200);
      expect((shared.body as Job).readerSubjects).to.deep.equal(['globex/bob']);
      expect(await bobReads()).to.equal(200);
      const stale = await rest('olga', 'POST', `/jobs/${jobId}:setReaderSubjects`, { etag: job.etag });
      expect([stale.status, (stale.body as ErrorBody).error.status]).to.deep.equal([409, 'ABORTED']);
      expect(await bobReads()).to.equal(200);
      expect((await rest('olga', 'POST', `/jobs/${jobId}:setReaderSubjects`, {})).status).to.equal(200);
      expect(await bobReads()).to.equal(404);

      const nap = id('nap-shared');
      await olga.submitJob({ jobId: nap, type: 'sleep', payload: { ms: 60_000 } });
      const waiting = await rest('olga', 'POST', `/jobs/${nap}:setReaderSubjects`, { readerSubjects: ['globex/bob'] });
      expect([waiting.status, (waiting.body as ErrorBody).error.status]).to.deep.equal([400, 'FAILED_PRECONDITION']);
      await olga.cancelJob({ jobId: nap });
    });
  });

  describe("audit of another tenant's reads (issue #13, item 10)", () => {
    const audited = async (api: Client, filter: string) =>
      (await api.listAuditEvents({ filter, pageSize: 100 })).auditEvents.map((entry) => ({
        method: entry.method.split('/').at(-1),
        subject: entry.subject,
        tenant: entry.tenant,
        jobIds: entry.jobIds,
        outcome: entry.outcome,
      }));

    it("shows the owner's tenant each read of its shared job by another tenant's caller, naming that tenant but not the subject", async () => {
      const shared = await recorded(olga, id('audited'), { readerSubjects: ['globex/bob'] });
      const unshared = await recorded(olga, id('unshared'));
      await bob.getJob({ jobId: shared.jobId });
      await bob.getLineage({ jobId: shared.jobId });
      const derived = await bob.submitJob({ type: 'echo', payload: { text: 'x' }, parentJobIds: [shared.jobId] });
      await failure(bob.getJob({ jobId: unshared.jobId }));
      await olga.getJob({ jobId: shared.jobId });

      expect(await audited(ada, `job_id = "${shared.jobId}"`)).to.deep.equal([
        { method: 'GetJob', subject: 'olga', tenant: 'acme', jobIds: [shared.jobId], outcome: 'OK' },
        { method: 'SubmitJob', subject: '', tenant: 'globex', jobIds: [shared.jobId], outcome: 'OK' },
        { method: 'GetLineage', subject: '', tenant: 'globex', jobIds: [shared.jobId], outcome: 'OK' },
        { method: 'GetJob', subject: '', tenant: 'globex', jobIds: [shared.jobId], outcome: 'OK' },
        { method: 'RecordJob', subject: 'olga', tenant: 'acme', jobIds: [shared.jobId], outcome: 'OK' },
      ]);
      // A refused read read nothing: the owner's trail does not hear of it, the caller's does.
      expect(await audited(ada, `job_id = "${unshared.jobId}"`)).to.deep.equal([{ method: 'RecordJob', subject: 'olga', tenant: 'acme', jobIds: [unshared.jobId], outcome: 'OK' }]);
      expect(await audited(gina, `job_id = "${shared.jobId}"`)).to.deep.equal([
        { method: 'SubmitJob', subject: 'bob', tenant: 'globex', jobIds: [derived.jobId, shared.jobId], outcome: 'OK' },
        { method: 'GetLineage', subject: 'bob', tenant: 'globex', jobIds: [shared.jobId], outcome: 'OK' },
        { method: 'GetJob', subject: 'bob', tenant: 'globex', jobIds: [shared.jobId], outcome: 'OK' },
      ]);
    });

    it("names a parent taken from another tenant in the caller's entry and the owner's trail, whichever call names it", async () => {
      const shared = await recorded(olga, id('shared-parent'), { readerSubjects: ['globex/bob'] });
      const own = await waitForJob(bob, (await bob.submitJob({ jobId: id('globex-echo'), type: 'echo', payload: { text: 'x' } })).jobId);
      const record = await recorded(bob, id('globex-record'), { parentJobIds: [shared.jobId] });
      const batch = (await bob.batchRecordJobs({ requests: [{ jobId: id('globex-batch'), type: 'etl', status: SUCCEEDED, outputHash: 'h', parentJobIds: [shared.jobId] }] })).results[0]!.job!;
      const rerun = await bob.rerunJob({ jobId: own.jobId, replaceParents: true, parentJobIds: [shared.jobId] });
      const submitted = await bob.submitJob({ jobId: id('globex-submit'), type: 'echo', payload: { text: 'y' }, parentJobIds: [shared.jobId] });

      expect(await audited(gina, `job_id = "${shared.jobId}"`)).to.deep.equal([
        { method: 'SubmitJob', subject: 'bob', tenant: 'globex', jobIds: [submitted.jobId, shared.jobId], outcome: 'OK' },
        { method: 'RerunJob', subject: 'bob', tenant: 'globex', jobIds: [own.jobId, rerun.jobId, shared.jobId], outcome: 'OK' },
        { method: 'BatchRecordJobs', subject: 'bob', tenant: 'globex', jobIds: [batch.jobId, shared.jobId], outcome: 'OK' },
        { method: 'RecordJob', subject: 'bob', tenant: 'globex', jobIds: [record.jobId, shared.jobId], outcome: 'OK' },
      ]);
      expect(await audited(ada, `job_id = "${shared.jobId}"`)).to.deep.equal([
        ...['SubmitJob', 'RerunJob', 'BatchRecordJobs', 'RecordJob'].map((method) => ({ method, subject: '', tenant: 'globex', jobIds: [shared.jobId], outcome: 'OK' })),
        { method: 'RecordJob', subject: 'olga', tenant: 'acme', jobIds: [shared.jobId], outcome: 'OK' },
      ]);
    });

    it("copies another tenant's parents of a batch into its trail past the cap of the caller's entry (1,000 job ids)", async () => {
      const shared = await recorded(olga, id('shared-batch-parent'), { readerSubjects: ['globex/bob'] });
      const requests = Array.from({ length: 1000 }, (_, i) => ({ jobId: id(`globex-big-batch-${i}`), type: 'etl', status: SUCCEEDED, outputHash: 'h', parentJobIds: i === 999 ? [shared.jobId] : [] }));
      const results = (await bob.batchRecordJobs({ requests })).results;
      expect(results.every((result) => result.job)).to.equal(true);

      const [callers] = await audited(gina, `job_id = "${requests[0]!.jobId}"`);
      expect(callers!.jobIds).to.deep.equal(requests.map((request) => request.jobId));
      expect(await audited(ada, `job_id = "${shared.jobId}"`)).to.deep.equal([
        { method: 'BatchRecordJobs', subject: '', tenant: 'globex', jobIds: [shared.jobId], outcome: 'OK' },
        { method: 'RecordJob', subject: 'olga', tenant: 'acme', jobIds: [shared.jobId], outcome: 'OK' },
      ]);
    });

    it('REST: a read through GET /jobs/:id/provenance reaches the owner’s GET /audit-events the same way', async () => {
      const shared = await recorded(olga, id('rest-audited'), { readerSubjects: ['globex/bob'] });
      expect((await rest('bob', 'GET', `/jobs/${shared.jobId}/provenance`)).status).to.equal(200);
      const trail: RestAnswer = await rest('ada', 'GET', `/audit-events?filter=${encodeURIComponent(`job_id = "${shared.jobId}"`)}`);
      const entries = (trail.body as { auditEvents: Array<Record<string, unknown>> }).auditEvents;
      expect(entries.map((entry) => [entry.method, entry.tenant, entry.subject ?? '', entry.jobIds])).to.deep.equal([
        ['/provenance.v1.ProvenanceService/GetJob', 'globex', '', [shared.jobId]],
        ['/provenance.v1.ProvenanceService/RecordJob', 'acme', 'olga', [shared.jobId]],
      ]);
    });
  });
});
