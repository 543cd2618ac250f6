import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { status, type ServiceError } from '@grpc/grpc-js';
import {
  CancelJobRequest,
  decodeStatus,
  definitionHash,
  durationMs,
  GetJobRequest,
  GraphFormat,
  inputHash,
  JobStatus,
  LineageDirection,
  outputHash,
  ProvenanceClient,
  ProvenanceClientError,
  statusDetails,
  type Job,
  type JsonObject,
} from '@provenance/client';
import { expect } from 'chai';
import { issueCertificate, makeApiKey, makeCertificateAuthority, makeHmacSecret, makeTemporaryDirectory, sha256Hex, signToken, type TemporaryDirectory } from '../support/credentials.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const SUCCEEDED = JobStatus.JOB_STATUS_SUCCEEDED;

/** The error a call that must fail rejects with. */
async function rejection(call: Promise<unknown>): Promise<ProvenanceClientError> {
  try {
    await call;
  } catch (error) {
    expect(error).to.be.instanceOf(ProvenanceClientError);
    return error as ProvenanceClientError;
  }
  throw new Error('the call succeeded, but it was expected to fail');
}

async function until(client: ProvenanceClient, jobId: string, done: (job: Job) => boolean): Promise<Job> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const job = await client.getJob({ jobId });
    if (done(job)) return job;
    await sleep(50);
  }
  throw new Error(`job ${jobId} did not reach the awaited state`);
}

describe('@provenance/client calls against a live server', function () {
  this.timeout(60_000);
  let directory: TemporaryDirectory;
  const servers: ServerProcess[] = [];
  const clients: ProvenanceClient[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory.path, `p${servers.length}.db`), ...env });
    servers.push(server);
    return server;
  };
  const connect = (options: ConstructorParameters<typeof ProvenanceClient>[0]) => {
    const client = new ProvenanceClient(options);
    clients.push(client);
    return client;
  };

  before(async () => {
    directory = await makeTemporaryDirectory('ts-client-');
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const server of servers.splice(0)) await server.stop();
  });
  after(async () => {
    await directory?.remove();
  });

  it('reaches every unary method with partial requests', async () => {
    const client = connect({ address: (await start()).address, timeoutMs: 10_000 });
    const a = await client.recordJob({ jobId: 'calls-a', type: 'echo', payload: { n: 1 }, status: SUCCEEDED, outputHash: 'h-a' });
    expect(a.definitionHash).to.equal(definitionHash('echo', { n: 1 }));

    const batch = await client.batchRecordJobs({
      requests: [
        { jobId: 'calls-b', type: 'echo', parentJobIds: ['calls-a'], payload: { n: 2 }, status: SUCCEEDED, output: { b: true } },
        { jobId: 'not a valid id', type: 'echo', status: SUCCEEDED, outputHash: 'h' },
      ],
    });
    expect(batch.results.map((result) => result.status?.code)).to.deep.equal([status.OK, status.INVALID_ARGUMENT]);
    expect(decodeStatus(batch.results[1]!.status!).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['job_id']);

    expect((await client.getJob({ jobId: 'calls-b' })).parentJobIds).to.deep.equal(['calls-a']);
    expect((await client.listJobs({ pageSize: 10 })).jobs.map((job) => job.jobId)).to.have.members(['calls-a', 'calls-b']);
    const lineage = await client.getLineage({ jobId: 'calls-b', direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS });
    expect(lineage.nodes.map((node) => [node.jobId, node.depth])).to.deep.equal([['calls-a', 1]]);
    expect((await client.listDependents({ jobId: 'calls-a' })).dependents.map((d) => d.job?.jobId)).to.deep.equal(['calls-b']);
    const graph = await client.exportProvenanceGraph({ jobId: 'calls-b', direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS, format: GraphFormat.GRAPH_FORMAT_NATIVE });
    expect(graph.edges).to.deep.equal([{ parentJobId: 'calls-a', childJobId: 'calls-b' }]);
    expect((await client.checkReproducibility({ jobId: 'calls-b' })).reproducible).to.equal(true);
    const comparison = await client.compareJobs({ leftJobId: 'calls-a', rightJobId: 'calls-b' });
    expect(comparison.difference?.payloadDifferences.map((d) => [d.path, d.leftValueJson, d.rightValueJson])).to.deep.equal([['/n', '1', '2']]);

    const echoed = await until(client, (await client.submitJob({ type: 'echo', payload: { text: 'hi' } })).jobId, (job) => job.status === SUCCEEDED);
    expect(durationMs(echoed.duration)).to.be.a('number').and.to.be.at.least(0);
    const rerun = await client.rerunJob({ jobId: echoed.jobId, payloadChange: { $case: 'payloadOverrides', value: { text: 'again' } } });
    expect(rerun).to.include({ rerunOfJobId: echoed.jobId });
    const sleeper = await client.submitJob({ type: 'sleep', payload: { ms: 60_000 } });
    expect((await client.cancelJob({ jobId: sleeper.jobId, reason: 'test' })).status).to.equal(JobStatus.JOB_STATUS_CANCELLED);
    expect((await client.invalidateCache({ jobId: 'calls-a', dryRun: true })).affectedJobIds).to.have.members(['calls-a', 'calls-b']);
    const audit = await client.listAuditEvents({ filter: 'job_id = "calls-a"' });
    expect(audit.auditEvents.map((entry) => entry.method)).to.include('/provenance.v1.ProvenanceService/RecordJob');
  });

  it('rejects with ProvenanceClientError carrying the decoded status details', async () => {
    const client = connect({ address: (await start()).address });
    const missing = await rejection(client.getJob({ jobId: 'nowhere' }));
    expect(missing.code).to.equal(status.NOT_FOUND);
    expect(missing.reason).to.equal('JOB_NOT_FOUND');
    expect(missing.statusDetails?.errorInfo?.domain).to.equal('provenance.v1');
    expect(missing.statusDetails?.resourceInfo?.resourceName).to.equal('jobs/nowhere');
    expect(statusDetails(missing)).to.deep.equal(missing.statusDetails);

    const invalid = await rejection(client.recordJob({ jobId: 'bad id', type: '' }));
    expect(invalid.code).to.equal(status.INVALID_ARGUMENT);
    expect(invalid.statusDetails?.badRequest?.fieldViolations.map((v) => v.field)).to.include.members(['job_id', 'type']);

    const orphan = await rejection(client.recordJob({ type: 'echo', parentJobIds: ['never-recorded'], status: SUCCEEDED, outputHash: 'h' }));
    expect(orphan.code).to.equal(status.FAILED_PRECONDITION);
    expect(orphan.statusDetails?.preconditionFailure?.violations.map((v) => v.subject)).to.deep.equal(['jobs/never-recorded']);
    expect(orphan.message).to.match(/^9 FAILED_PRECONDITION: /);
    expect(orphan.stack).to.match(/^ProvenanceClientError: /);
  });

  it('gives the retry delay the server asks for', async () => {
    const client = connect({ address: (await start({ PROVENANCE_RATE_LIMIT: '1', PROVENANCE_RATE_LIMIT_BURST: '1' })).address });
    const errors = await Promise.all(Array.from({ length: 3 }, () => rejection(client.getJob({ jobId: 'nowhere' }))));
    const limited = errors.find((error) => error.code === status.RESOURCE_EXHAUSTED)!;
    expect(limited.reason).to.equal('RATE_LIMITED');
    const { seconds, nanos } = limited.statusDetails!.retryInfo!.retryDelay!;
    expect(limited.retryDelayMs).to.be.above(0).and.to.equal(Number(seconds) * 1000 + Math.floor(nanos / 1e6));
    expect(errors.find((error) => error.code === status.NOT_FOUND)?.retryDelayMs).to.equal(undefined);
  });

  it('decodes the status details of raw grpc-js errors too', async () => {
    const client = connect({ address: (await start()).address });
    const error = await new Promise<ServiceError>((resolve) => client.raw.cancelJob(CancelJobRequest.fromPartial({ jobId: 'nowhere' }), (e) => resolve(e!)));
    expect(statusDetails(error)?.errorInfo?.reason).to.equal('JOB_NOT_FOUND');
    expect(statusDetails(new Error('not from a call'))).to.equal(undefined);
  });

  it('ends a unary call whose deadline passes with DEADLINE_EXCEEDED, and lets a call set its own deadline', async () => {
    const server = await start();
    const client = connect({ address: server.address, timeoutMs: 300 });
    const job = await client.recordJob({ type: 'echo', status: SUCCEEDED, outputHash: 'h' });
    // A stopped server process accepts the call but never answers it.
    server.child.kill('SIGSTOP');
    try {
      const started = Date.now();
      const late = await rejection(client.getJob({ jobId: job.jobId }));
      expect(late.code).to.equal(status.DEADLINE_EXCEEDED);
      expect(late.statusDetails).to.equal(undefined);
      // At its deadline, not never: the upper bound only allows a busy machine.
      expect(Date.now() - started).to.be.within(250, 15_000);

      const patient = client.getJob({ jobId: job.jobId }, { timeoutMs: 20_000 });
      await sleep(800);
      server.child.kill('SIGCONT');
      expect((await patient).jobId).to.equal(job.jobId);
    } finally {
      server.child.kill('SIGCONT');
    }
  });

  it('cancels a call when its signal aborts', async () => {
    const server = await start();
    const client = connect({ address: server.address });
    const job = await client.recordJob({ type: 'echo', status: SUCCEEDED, outputHash: 'h' });
    server.child.kill('SIGSTOP');
    try {
      const aborting = new AbortController();
      const call = client.getJob({ jobId: job.jobId }, { signal: aborting.signal });
      await sleep(100);
      aborting.abort();
      expect((await rejection(call)).code).to.equal(status.CANCELLED);
      expect((await rejection(client.getJob({ jobId: job.jobId }, { signal: AbortSignal.abort() }))).code).to.equal(status.CANCELLED);
    } finally {
      server.child.kill('SIGCONT');
    }
    expect((await client.getJob({ jobId: job.jobId })).jobId).to.equal(job.jobId);
  });

  describe('with authentication', () => {
    const secret = makeHmacSecret();
    const apiKey = makeApiKey();
    const token = (sub: string) =>
      signToken({ sub, tenant: 'acme', roles: ['submitter'], iss: 'https://issuer.test', aud: 'provenance', exp: Math.floor(Date.now() / 1000) + 600 }, 'HS256', secret);
    let address: string;

    beforeEach(async () => {
      const keysFile = join(directory.path, 'api-keys.json');
      writeFileSync(keysFile, JSON.stringify([{ id: 'ci', sha256: sha256Hex(apiKey), subject: 'ci-bot', tenant: 'acme', roles: ['submitter'] }]));
      address = (
        await start({
          PROVENANCE_JWT_SECRET: secret,
          PROVENANCE_JWT_ISSUER: 'https://issuer.test',
          PROVENANCE_JWT_AUDIENCE: 'provenance',
          PROVENANCE_API_KEYS_FILE: keysFile,
        })
      ).address;
    });

    it('sends the bearer token with every call, raw ones included', async () => {
      const client = connect({ address, token: await token('alice') });
      const job = await client.recordJob({ type: 'echo', status: SUCCEEDED, outputHash: 'h' });
      expect(job).to.include({ owner: 'alice', tenant: 'acme' });
      const raw = await new Promise<Job>((resolve, reject) => client.raw.getJob(GetJobRequest.fromPartial({ jobId: job.jobId }), (e, r) => (e ? reject(e) : resolve(r))));
      expect(raw.owner).to.equal('alice');
    });

    it('asks a token function for the token of each call', async () => {
      const tokens = [await token('alice'), await token('bob')];
      let calls = 0;
      const client = connect({ address, token: () => tokens[calls++ % 2]! });
      const first = await client.recordJob({ type: 'echo', status: SUCCEEDED, outputHash: 'h1' });
      const second = await client.recordJob({ type: 'echo', status: SUCCEEDED, outputHash: 'h2' });
      expect([first.owner, second.owner]).to.deep.equal(['alice', 'bob']);
    });

    it('sends the API key as x-api-key', async () => {
      const client = connect({ address, apiKey });
      expect(await client.recordJob({ type: 'echo', status: SUCCEEDED, outputHash: 'h' })).to.include({ owner: 'ci-bot', tenant: 'acme' });
    });

    it('sends the fixed headers it is given', async () => {
      const client = connect({ address, metadata: { authorization: `Bearer ${await token('carol')}` } });
      expect((await client.recordJob({ type: 'echo', status: SUCCEEDED, outputHash: 'h' })).owner).to.equal('carol');
    });

    it("sets a job's reader grants for its owner, and takes them all back with an empty list", async () => {
      const alice = connect({ address, token: await token('alice') });
      const job = await alice.recordJob({ type: 'echo', status: SUCCEEDED, outputHash: 'h' });
      const shared = await alice.setReaderSubjects({ jobId: job.jobId, readerSubjects: ['globex/bob', 'initech/carol'], etag: job.etag });
      expect(shared.readerSubjects).to.have.members(['globex/bob', 'initech/carol']).and.to.have.lengthOf(2);
      expect(shared.etag).not.to.equal(job.etag);
      // The same grants in another order change nothing, not even the etag.
      expect((await alice.setReaderSubjects({ jobId: job.jobId, readerSubjects: ['initech/carol', 'globex/bob'] })).etag).to.equal(shared.etag);

      const stale = await rejection(alice.setReaderSubjects({ jobId: job.jobId, readerSubjects: [], etag: job.etag }));
      expect([stale.code, stale.reason]).to.deep.equal([status.ABORTED, 'ETAG_MISMATCH']);
      const notOwner = await rejection(connect({ address, token: await token('dave') }).setReaderSubjects({ jobId: job.jobId, readerSubjects: [] }));
      expect(notOwner.code).to.equal(status.PERMISSION_DENIED);
      const missing = await rejection(alice.setReaderSubjects({ jobId: 'nowhere', readerSubjects: [] }));
      expect([missing.code, missing.reason]).to.deep.equal([status.NOT_FOUND, 'JOB_NOT_FOUND']);

      const revoked = await alice.setReaderSubjects({ jobId: job.jobId, readerSubjects: [], etag: shared.etag });
      expect(revoked.readerSubjects).to.deep.equal([]);
      expect((await alice.getJob({ jobId: job.jobId })).readerSubjects).to.deep.equal([]);
    });

    it('is refused without a credential: UNAUTHENTICATED, with no detail', async () => {
      const refused = await rejection(connect({ address }).listJobs({}));
      expect(refused.code).to.equal(status.UNAUTHENTICATED);
      expect(refused.statusDetails).to.equal(undefined);
    });
  });

  it('connects with TLS and presents its client certificate (mTLS)', async () => {
    const ca = await makeCertificateAuthority();
    try {
      const serverCertificate = await issueCertificate(ca, { commonName: 'provenance', server: ['localhost'] });
      const clientCertificate = await issueCertificate(ca, { commonName: 'etl-robot', organization: 'acme', organizationalUnits: ['submitter'] });
      const server = await start({
        PROVENANCE_TLS_CERT_FILE: serverCertificate.certificatePath,
        PROVENANCE_TLS_KEY_FILE: serverCertificate.keyPath,
        PROVENANCE_TLS_CLIENT_CA_FILE: ca.certificatePath,
      });
      const address = `localhost:${server.address.split(':').at(-1)}`;
      const client = connect({
        address,
        tls: { rootCertificates: Buffer.from(ca.certificatePem), privateKey: Buffer.from(clientCertificate.keyPem), certificateChain: Buffer.from(clientCertificate.certificatePem) },
      });
      expect(await client.recordJob({ type: 'tls', status: SUCCEEDED, outputHash: 'h' })).to.include({ owner: 'etl-robot', tenant: 'acme' });
      const plaintext = await rejection(connect({ address }).listJobs({}, { timeoutMs: 5_000 }));
      expect(plaintext.code).to.equal(status.UNAVAILABLE);
    } finally {
      await ca.remove();
    }
  });

  it('computes the hashes the server stores', async () => {
    const client = connect({ address: (await start()).address });
    const payload: JsonObject = { z: [1, 2.5, { requestedAt: 'now', y: null }], a: 'é', n: 1e21 };
    const parent = await client.recordJob({ type: 'hash', payload, status: SUCCEEDED, output: { ok: true } });
    expect(parent.definitionHash).to.equal(definitionHash('hash', payload));
    expect(parent.result?.outputHash).to.equal(outputHash({ ok: true }));
    const child = await client.recordJob({ type: 'child', parentJobIds: ['not-recorded', parent.jobId], allowMissingParents: true, status: SUCCEEDED, outputHash: 'h' });
    expect(child.inputHash).to.equal(
      inputHash(definitionHash('child', {}), [
        { jobId: parent.jobId, outputHash: parent.result!.outputHash },
        { jobId: 'not-recorded', outputHash: null },
      ]),
    );
  });
});
