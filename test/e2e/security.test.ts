import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, status } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { definitionHash, DEFAULT_VOLATILE_KEYS } from '../../src/domain/hashing.js';
import type { JsonObject } from '../../src/domain/json.js';
import { GraphFormat, JobStatus } from '@provenance/client';
import { LineageDirection, LineageView } from '@provenance/client';
import { ReproducibilityIssueReason } from '@provenance/client';
import { StartPosition } from '@provenance/client';
import { bearerTokens, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../support/bearer-tokens.js';
import { issueCertificate, makeApiKey, makeCertificateAuthority, makeTemporaryDirectory, sha256Hex, unsecuredToken, type TemporaryDirectory } from '../support/credentials.js';
import { collectEvents, connect, failure, statusDetails, subscribed, type Client } from '../support/grpc-client.js';
import { runDocumentedStart } from '../support/documented-start.js';
import { MiniGrpcurl } from '../support/mini-grpcurl.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const SUCCEEDED = JobStatus.JOB_STATUS_SUCCEEDED;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('security', function () {
  this.timeout(60_000);
  let directory: TemporaryDirectory;
  let server: ServerProcess;
  const tokens = bearerTokens();
  const readerKey = makeApiKey();
  const { token } = tokens;
  const as = async (sub: string, tenant: string, roles: string[]): Promise<Client> => connect(server.address, { headers: await tokens.header(sub, tenant, roles) });

  before(async () => {
    directory = await makeTemporaryDirectory();
    const keysFile = join(directory.path, 'api-keys.json');
    writeFileSync(keysFile, JSON.stringify([{ id: 'dash', sha256: sha256Hex(readerKey), subject: 'dashboard', tenant: 'acme', roles: ['reader'] }]));
    server = await startServer({
      PROVENANCE_SQLITE_PATH: join(directory.path, 'provenance.db'),
      ...tokens.env,
      PROVENANCE_API_KEYS_FILE: keysFile,
      PROVENANCE_RATE_LIMIT: '0',
    });
  });
  after(async () => {
    await server?.stop();
    await directory?.remove();
  });

  describe('authentication', () => {
    it('refuses missing, expired, forged, wrong-audience and alg=none tokens with a bare UNAUTHENTICATED', async () => {
      const tokens = [
        undefined,
        await token('alice', 'acme', ['admin'], { exp: Math.floor(Date.now() / 1000) - 3600 }),
        // Signed with another secret.
        await bearerTokens().token('alice', 'acme', ['admin']),
        await token('alice', 'acme', ['admin'], { aud: 'someone-else' }),
        unsecuredToken({ sub: 'alice', tenant: 'acme', roles: ['admin'], iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 }),
      ];
      for (const bearer of tokens) {
        const api = connect(server.address, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {});
        const error = await failure(api.getJob({ jobId: 'anything' }));
        expect(error.code).to.equal(status.UNAUTHENTICATED);
        expect(error.details).to.equal('unauthenticated');
        api.close();
      }
    });

    it('takes a valid token and a valid API key, and refuses an unknown key', async () => {
      const alice = await as('alice', 'acme', ['submitter']);
      const job = await alice.recordJob({ type: 'etl', status: SUCCEEDED, outputHash: 'h' });
      expect(job).to.include({ tenant: 'acme', owner: 'alice' });
      const dashboard = connect(server.address, { headers: { 'x-api-key': readerKey } });
      expect((await dashboard.getJob({ jobId: job.jobId })).jobId).to.equal(job.jobId);
      const stranger = connect(server.address, { headers: { 'x-api-key': makeApiKey() } });
      expect((await failure(stranger.getJob({ jobId: job.jobId }))).code).to.equal(status.UNAUTHENTICATED);
      for (const api of [alice, dashboard, stranger]) api.close();
    });

    it('leaves health and reflection open', async () => {
      const grpcurl = new MiniGrpcurl(server.address);
      expect(await grpcurl.call('grpc.health.v1.Health/Check', {})).to.deep.equal({ status: 'SERVING' });
      expect(await grpcurl.list()).to.include('provenance.v1.ProvenanceService');
      grpcurl.close();
    });
  });

  describe('tenants and roles', () => {
    it('keeps every answer about another tenant’s jobs from naming them', async () => {
      const alice = await as('alice', 'acme', ['submitter']);
      const bob = await as('bob', 'globex', ['submitter']);
      const shared = await alice.recordJob({ type: 'raw', status: SUCCEEDED, outputHash: 'h1', readerSubjects: ['globex/bob'] });
      const secretChild = await alice.recordJob({ type: 'private', status: SUCCEEDED, outputHash: 'h2', parentJobIds: [shared.jobId] });
      const hidden = await alice.recordJob({ type: 'hidden', status: SUCCEEDED, outputHash: 'h3' });
      const events = bob.events({ startPosition: StartPosition.START_POSITION_OLDEST });

      // Reading: NOT_FOUND for another tenant's job, exactly as for one that does not exist.
      const notFound = await failure(bob.getJob({ jobId: hidden.jobId }));
      const missing = await failure(bob.getJob({ jobId: 'no-such-job' }));
      expect(notFound.code).to.equal(status.NOT_FOUND);
      expect(notFound.details.replace(hidden.jobId, 'X')).to.equal(missing.details.replace('no-such-job', 'X'));
      expect((await bob.getJob({ jobId: shared.jobId })).jobId).to.equal(shared.jobId);
      expect((await bob.listJobs({})).jobs.map((j) => j.jobId)).to.deep.equal([shared.jobId]);
      for (const call of [() => bob.getLineage({ jobId: hidden.jobId }), () => bob.listDependents({ jobId: hidden.jobId }), () => bob.exportProvenanceGraph({ jobId: hidden.jobId })]) {
        expect((await failure(call())).code).to.equal(status.NOT_FOUND);
      }

      // Lineage keeps its shape with placeholders, and names no unreadable job.
      const lineage = await bob.getLineage({ jobId: shared.jobId, direction: LineageDirection.LINEAGE_DIRECTION_DESCENDANTS, view: LineageView.LINEAGE_VIEW_FULL });
      expect(lineage.hiddenNodeCount).to.equal(1);
      expect(lineage.nodes).to.have.length(1);
      expect(lineage.nodes[0]).to.deep.include({ restricted: true, depth: 1, type: '', job: undefined });
      expect(lineage.edges).to.deep.equal([{ parentJobId: shared.jobId, childJobId: lineage.nodes[0]!.jobId }]);
      const dependents = await bob.listDependents({ jobId: shared.jobId, transitive: true });
      expect(dependents.hiddenNodeCount).to.equal(1);
      expect(dependents.dependents[0]!.job).to.deep.include({ restricted: true, type: '', definitionHash: '' });
      const exported = await bob.exportProvenanceGraph({ jobId: shared.jobId });
      expect(exported.hiddenNodeCount).to.equal(1);
      const documents = [];
      for (const format of [GraphFormat.GRAPH_FORMAT_PROV_JSON, GraphFormat.GRAPH_FORMAT_DOT, GraphFormat.GRAPH_FORMAT_MERMAID]) {
        const document = await bob.exportProvenanceGraph({ jobId: shared.jobId, format });
        expect(document.hiddenNodeCount).to.equal(1);
        expect(document.content).to.contain(lineage.nodes[0]!.jobId);
        documents.push(document);
      }
      for (const answer of [lineage, dependents, exported, ...documents]) {
        expect(JSON.stringify(answer)).not.to.contain(secretChild.jobId);
        expect(JSON.stringify(answer)).not.to.contain('private');
      }

      // Parents: one another tenant's job (unreadable) is refused like a missing one.
      const refused = await failure(bob.recordJob({ type: 'derived', status: SUCCEEDED, outputHash: 'x', parentJobIds: [hidden.jobId], allowMissingParents: true }));
      expect(statusDetails(refused).errorInfo?.reason).to.equal('PARENT_NOT_FOUND');
      const derived = await bob.recordJob({ type: 'derived', status: SUCCEEDED, outputHash: 'x', parentJobIds: [shared.jobId] });
      expect(derived.tenant).to.equal('globex');

      // Events: only those of jobs bob may read (a recorded SUCCEEDED job has three); the others' came in between.
      const { events: seen } = await collectEvents(events, 3 + 3);
      events.cancel();
      expect(seen.map((e) => e.jobId)).to.deep.equal([shared.jobId, shared.jobId, shared.jobId, derived.jobId, derived.jobId, derived.jobId]);
      for (const api of [alice, bob]) api.close();
    });

    it('checks permission before existence: roles for writes, owner or admin for cancel and invalidate', async () => {
      const reader = await as('rita', 'acme', ['reader']);
      const owner = await as('olga', 'acme', ['submitter']);
      const colleague = await as('carl', 'acme', ['submitter']);
      const admin = await as('ada', 'acme', ['admin']);
      expect((await failure(reader.recordJob({ type: 't', status: SUCCEEDED, outputHash: 'h' }))).code).to.equal(status.PERMISSION_DENIED);
      expect((await failure(reader.cancelJob({ jobId: 'no-such-job' }))).code).to.equal(status.PERMISSION_DENIED);
      expect((await failure(reader.invalidateCache({ jobId: 'no-such-job' }))).code).to.equal(status.PERMISSION_DENIED);
      const job = await owner.recordJob({ type: 't', status: SUCCEEDED, outputHash: 'h' });
      expect((await failure(colleague.invalidateCache({ jobId: job.jobId }))).code).to.equal(status.PERMISSION_DENIED);
      expect((await owner.invalidateCache({ jobId: job.jobId, dryRun: true })).affectedCount).to.equal(1);
      expect((await admin.invalidateCache({ jobId: job.jobId })).affectedCount).to.equal(1);
      expect((await failure(owner.listAuditEvents({}))).code).to.equal(status.PERMISSION_DENIED);
      for (const api of [reader, owner, colleague, admin]) api.close();
    });
  });

  it('redacts secret payload keys at any depth before storing, hashing and publishing', async () => {
    const alice = await as('alice', 'acme', ['submitter']);
    const payload: JsonObject = { db: { host: 'h', Password: 'hunter2' }, steps: [{ apiKey: 'k-123' }, { keep: 1 }], token: 't' };
    const job = await alice.recordJob({ type: 'ingest', payload, status: SUCCEEDED, outputHash: 'h' });
    const redacted: JsonObject = { db: { host: 'h', Password: '[REDACTED]' }, steps: [{ apiKey: '[REDACTED]' }, { keep: 1 }], token: '[REDACTED]' };
    expect(job.payload).to.deep.equal(redacted);
    expect(job.payloadRedacted).to.equal(true);
    expect(job.definitionHash).to.equal(definitionHash('ingest', redacted, new Set(DEFAULT_VOLATILE_KEYS)));
    const report = await alice.checkReproducibility({ jobId: job.jobId });
    expect(report.issues.map((i) => ReproducibilityIssueReason[i.reason])).to.include('REPRODUCIBILITY_ISSUE_REASON_INPUTS_INCOMPLETE');
    const stored = new Database(join(directory.path, 'provenance.db'), { readonly: true });
    const everything = JSON.stringify(stored.prepare('SELECT * FROM jobs').all());
    stored.close();
    expect(everything).not.to.contain('hunter2');
    expect(everything).not.to.contain('k-123');
    alice.close();
  });

  it('shows the metrics, which name every tenant\'s job types, to operators only', async () => {
    const alice = await as('alice', 'acme', ['submitter']);
    const secretType = `metrics-probe-${Math.random().toString(36).slice(2)}`;
    await alice.recordJob({ type: secretType, status: SUCCEEDED, outputHash: 'h' });
    const scrape = (headers: Record<string, string> = {}) => fetch(`http://${server.httpAddress}/metrics`, { headers });
    const anonymous = await scrape();
    expect(anonymous.status).to.equal(401);
    expect(anonymous.headers.get('www-authenticate')).to.equal('Bearer');
    expect(await anonymous.text()).not.to.contain(secretType);
    // A tenant's admin is not an operator: its authority ends at its tenant, and the metrics span them all.
    for (const roles of [['submitter'], ['admin']]) {
      const refused = await scrape({ Authorization: `Bearer ${await token('ada', 'globex', roles)}` });
      expect(refused.status, roles.join()).to.equal(403);
      const body = await refused.text();
      expect(body).not.to.contain(secretType);
      expect((JSON.parse(body) as { error: { status: string } }).error.status).to.equal('PERMISSION_DENIED');
    }
    const operator = await scrape({ Authorization: `Bearer ${await token('prometheus', 'ops', ['operator'])}` });
    expect(operator.status).to.equal(200);
    expect(await operator.text()).to.contain(`type="${secretType}"`);
    // Health stays open: load balancers probe without credentials.
    expect((await fetch(`http://${server.httpAddress}/healthz`)).status).to.equal(200);
    alice.close();
  });

  it('redacts the common spellings of secret keys, over gRPC and REST alike', async () => {
    const alice = await as('alice', 'acme', ['submitter']);
    const spellings = ['api_key', 'API-KEY', 'access_token', 'clientSecret', 'private_key', 'privateKey', 'passwd', 'bearer_token', 'x-api-key', 'credentials', 'db_password'];
    const secretOf = (via: string, key: string) => `${via}-secret-${key}-${Math.random().toString(36).slice(2)}`;
    const payloadFor = (via: string) => Object.fromEntries([...spellings.map((key) => [key, secretOf(via, key)]), ['max_tokens', 7], ['pad_token', '<pad>']]);
    const expected = Object.fromEntries([...spellings.map((key) => [key, '[REDACTED]']), ['max_tokens', 7], ['pad_token', '<pad>']]);
    const grpcPayload = payloadFor('grpc');
    const viaGrpc = await alice.recordJob({ type: 'ingest', payload: grpcPayload, status: SUCCEEDED, outputHash: 'h' });
    const restPayload = payloadFor('rest');
    const response = await fetch(`http://${server.httpAddress}/jobs:record`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await token('alice', 'acme', ['submitter'])}` },
      body: JSON.stringify({ type: 'ingest', payload: restPayload, metadata: { api_key: restPayload.api_key }, status: 'JOB_STATUS_SUCCEEDED', outputHash: 'h' }),
    });
    expect(response.status).to.equal(200);
    const viaRest = (await response.json()) as { jobId: string; payload: unknown; metadata: unknown; payloadRedacted: boolean };
    expect(viaGrpc.payload).to.deep.equal(expected);
    expect(viaRest.payload).to.deep.equal(expected);
    expect(viaRest.metadata).to.deep.equal({ api_key: '[REDACTED]' });
    expect([viaGrpc.payloadRedacted, viaRest.payloadRedacted]).to.deep.equal([true, true]);
    expect((await alice.getJob({ jobId: viaRest.jobId })).payload).to.deep.equal(expected);
    const stored = new Database(join(directory.path, 'provenance.db'), { readonly: true });
    const everything = JSON.stringify(stored.prepare('SELECT * FROM jobs').all());
    stored.close();
    for (const secretValue of [...Object.values(grpcPayload), ...Object.values(restPayload)].filter((v) => typeof v === 'string' && v.includes('-secret-'))) {
      expect(everything).not.to.contain(secretValue);
    }
    alice.close();
  });

  describe('audit trail', () => {
    it('has an entry for each call: who, which method and jobs, and the outcome', async () => {
      const auditor = await as('ada', 'audited', ['admin']);
      const job = await auditor.recordJob({ type: 'audited', status: SUCCEEDED, outputHash: 'h', labels: { role: 'root' } });
      const child = await auditor.recordJob({ type: 'audited', status: SUCCEEDED, outputHash: 'h2', parentJobIds: [job.jobId] });
      await auditor.getJob({ jobId: job.jobId });
      // A graph walk names its root only: its answer follows from the root, and may run to tens of thousands of jobs.
      const lineage = await auditor.getLineage({ jobId: job.jobId });
      expect(lineage.nodes.map((n) => n.jobId)).to.deep.equal([child.jobId]);
      await auditor.listJobs({ filter: 'labels.role = "root"' });
      await failure(auditor.getJob({ jobId: 'no-such-job' }));
      const entries = (await auditor.listAuditEvents({ filter: 'subject = "ada"' })).auditEvents;
      expect(entries.map((e) => [e.method.split('/').at(-1), e.outcome, e.jobIds])).to.deep.equal([
        ['GetJob', 'NOT_FOUND', ['no-such-job']],
        ['ListJobs', 'OK', [job.jobId]],
        ['GetLineage', 'OK', [job.jobId]],
        ['GetJob', 'OK', [job.jobId]],
        ['RecordJob', 'OK', [child.jobId, job.jobId]],
        ['RecordJob', 'OK', [job.jobId]],
      ]);
      expect(entries.every((e) => e.tenant === 'audited' && e.subject === 'ada')).to.equal(true);
      const byJob = (await auditor.listAuditEvents({ filter: `job_id = "${job.jobId}"` })).auditEvents;
      expect(byJob).to.have.length(5);
      auditor.close();
    });

    it('covers every method of the service', async () => {
      const admin = await as('root', 'every-method', ['admin']);
      const parent = await admin.recordJob({ type: 'echo', status: SUCCEEDED, outputHash: 'h' });
      await admin.batchRecordJobs({ requests: [{ type: 'echo', status: SUCCEEDED, outputHash: 'h', parentJobIds: [parent.jobId] }] });
      await admin.getJob({ jobId: parent.jobId });
      await admin.listJobs({});
      await admin.getLineage({ jobId: parent.jobId });
      await admin.listDependents({ jobId: parent.jobId });
      await admin.exportProvenanceGraph({ jobId: parent.jobId });
      await admin.checkReproducibility({ jobId: parent.jobId });
      await admin.compareJobs({ leftJobId: parent.jobId, rightJobId: parent.jobId });
      for await (const message of admin.streamLineage({ jobId: parent.jobId })) expect(message.root?.jobId).to.equal(parent.jobId);
      const sleeper = await admin.submitJob({ type: 'sleep', payload: { ms: 60_000 } });
      await admin.rerunJob({ jobId: parent.jobId });
      await admin.cancelJob({ jobId: sleeper.jobId });
      await admin.invalidateCache({ jobId: parent.jobId, dryRun: true });
      const stream = await subscribed(admin.events({ jobIds: [parent.jobId] }));
      stream.on('error', () => undefined); // CANCELLED, below
      stream.cancel();
      await admin.listAuditEvents({ pageSize: 1 });
      const methods = new Set((await admin.listAuditEvents({ pageSize: 100 })).auditEvents.map((e) => e.method.split('/').at(-1)));
      expect([...methods].sort()).to.deep.equal([
        'BatchRecordJobs',
        'CancelJob',
        'CheckReproducibility',
        'CompareJobs',
        'ExportProvenanceGraph',
        'GetJob',
        'GetLineage',
        'InvalidateCache',
        'ListAuditEvents',
        'ListDependents',
        'ListJobs',
        'RecordJob',
        'RerunJob',
        'StreamLineage',
        'SubmitJob',
        'WatchEvents',
      ]);
      admin.close();
    });

    it('answers UNAVAILABLE instead of answering unaudited', async () => {
      const alice = await as('alice', 'acme', ['submitter']);
      const job = await alice.recordJob({ type: 'before', status: SUCCEEDED, outputHash: 'h' });
      const database = new Database(join(directory.path, 'provenance.db'));
      database.exec('ALTER TABLE audit_events RENAME TO audit_events_away');
      try {
        const error = await failure(alice.getJob({ jobId: job.jobId }));
        expect(error.code).to.equal(status.UNAVAILABLE);
        expect(statusDetails(error).errorInfo?.reason).to.equal('AUDIT_UNAVAILABLE');
      } finally {
        database.exec('ALTER TABLE audit_events_away RENAME TO audit_events');
        database.close();
      }
      expect((await alice.getJob({ jobId: job.jobId })).jobId).to.equal(job.jobId);
      alice.close();
    });
  });
});

describe('security of the server process', function () {
  this.timeout(60_000);
  const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));

  it('refuses to listen beyond loopback without authentication, unless told it may', async () => {
    const directory = await makeTemporaryDirectory();
    try {
      const env = { ...process.env, PROVENANCE_SQLITE_PATH: join(directory.path, 'p.db'), PROVENANCE_GRPC_ADDRESS: '0.0.0.0:0' };
      const refused = spawnSync(process.execPath, [main], { env, encoding: 'utf8', timeout: 20_000 });
      expect(refused.status).to.equal(2);
      expect(refused.stderr).to.match(/^provenance: configuration error: PROVENANCE_GRPC_ADDRESS: listens on 0\.0\.0\.0, beyond loopback, with no authentication configured/);
      const httpEnv = { ...env, PROVENANCE_GRPC_ADDRESS: '127.0.0.1:0', PROVENANCE_HTTP_ADDRESS: '0.0.0.0:0' };
      const refusedHttp = spawnSync(process.execPath, [main], { env: httpEnv, encoding: 'utf8', timeout: 20_000 });
      expect(refusedHttp.status).to.equal(2);
      expect(refusedHttp.stderr).to.match(/^provenance: configuration error: PROVENANCE_HTTP_ADDRESS: listens on 0\.0\.0\.0, beyond loopback, with no authentication configured/);
      const allowed = await startServer({ PROVENANCE_SQLITE_PATH: join(directory.path, 'p.db'), PROVENANCE_GRPC_ADDRESS: '0.0.0.0:0', PROVENANCE_ALLOW_INSECURE: 'true' });
      expect(allowed.output()).to.match(/no authentication configured/);
      await allowed.stop();
    } finally {
      await directory.remove();
    }
  });

  it('limits the calls of each principal, with a retry delay', async () => {
    const directory = await makeTemporaryDirectory();
    const server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory.path, 'p.db'), PROVENANCE_RATE_LIMIT: '2', PROVENANCE_RATE_LIMIT_BURST: '3' });
    const api = connect(server.address);
    try {
      for (let i = 0; i < 3; i++) await failure(api.getJob({ jobId: 'none' })).then((e) => expect(e.code).to.equal(status.NOT_FOUND));
      const limited = await failure(api.getJob({ jobId: 'none' }));
      expect(limited.code).to.equal(status.RESOURCE_EXHAUSTED);
      const details = statusDetails(limited);
      expect(details.errorInfo?.reason).to.equal('RATE_LIMITED');
      expect(Number(details.retryInfo?.retryDelay?.nanos ?? 0) + Number(details.retryInfo?.retryDelay?.seconds ?? 0) * 1e9).to.be.above(0);
    } finally {
      api.close();
      await server.stop();
      await directory.remove();
    }
  });

  it('identifies the caller by its client certificate under mTLS, and refuses a client without one: the block of docs/security.md, as written', async () => {
    const block = /## mTLS\n[\s\S]*?```shell\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'docs/security.md'), 'utf8'))![1]!;
    const ca = await makeCertificateAuthority();
    const directory = await makeTemporaryDirectory();
    try {
      const serverCert = await issueCertificate(ca, { commonName: 'provenance', server: ['localhost', '127.0.0.1'] });
      const clientCert = await issueCertificate(ca, { commonName: 'etl-robot', organization: 'acme', organizationalUnits: ['submitter'] });
      const start = runDocumentedStart(block, directory.path);
      const [grpcurl] = start.clientCommands as [string[]];
      const option = (name: string) => grpcurl[grpcurl.indexOf(name) + 1]!;
      // The files the block names, where it expects them: the server's and the client's.
      const files = {
        [start.variables.PROVENANCE_TLS_CERT_FILE!]: serverCert.certificatePem,
        [start.variables.PROVENANCE_TLS_KEY_FILE!]: serverCert.keyPem,
        [start.variables.PROVENANCE_TLS_CLIENT_CA_FILE!]: ca.certificatePem,
        [option('-cacert')]: ca.certificatePem,
        [option('-cert')]: clientCert.certificatePem,
        [option('-key')]: clientCert.keyPem,
      };
      for (const [name, pem] of Object.entries(files)) writeFileSync(join(directory.path, name), pem);
      // The page's address beyond loopback, on a port the system picks: the client certificates are its authentication.
      const listen = start.serverEnv.PROVENANCE_GRPC_ADDRESS!;
      expect(listen).to.match(/^0\.0\.0\.0:/);
      const server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory.path, 'p.db'), ...start.serverEnv, PROVENANCE_GRPC_ADDRESS: '0.0.0.0:0' });
      try {
        const port = server.address.split(':').at(-1);
        const withCertificate = connect(`localhost:${port}`, {
          tls: { rootCertificates: Buffer.from(ca.certificatePem), privateKey: Buffer.from(clientCert.keyPem), certificateChain: Buffer.from(clientCert.certificatePem) },
        });
        const job = await withCertificate.recordJob({ type: 'tls', status: SUCCEEDED, outputHash: 'h' });
        expect(job).to.include({ owner: 'etl-robot', tenant: 'acme' });
        withCertificate.close();

        const [body, address, method] = grpcurl.slice(grpcurl.indexOf('-d') + 1);
        expect(address).to.equal('localhost:50051');
        const read = (name: string) => readFileSync(join(directory.path, option(name)));
        const pageClient = new MiniGrpcurl(`localhost:${port}`, credentials.createSsl(read('-cacert'), read('-key'), read('-cert')));
        try {
          const listed = (await pageClient.call(method!, JSON.parse(body!))) as { jobs: Array<{ jobId: string; owner: string }> };
          expect(listed.jobs.map((j) => [j.jobId, j.owner])).to.deep.equal([[job.jobId, 'etl-robot']]);
        } finally {
          pageClient.close();
        }

        const without = connect(`localhost:${port}`, { tls: { rootCertificates: Buffer.from(ca.certificatePem) } });
        expect((await failure(without.getJob({ jobId: job.jobId }))).code).to.equal(status.UNAVAILABLE);
        without.close();
      } finally {
        await server.stop();
      }
    } finally {
      await directory.remove();
      await ca.remove();
    }
  });
});
