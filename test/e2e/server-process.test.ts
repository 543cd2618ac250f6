import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, credentials } from '@grpc/grpc-js';
import { expect } from 'chai';
import { connect } from '../support/grpc-client.js';
import { MiniGrpcurl } from '../support/mini-grpcurl.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { JobStatus } from '@provenance/client';

describe('the server process', function () {
  this.timeout(60_000);
  let directory: string;
  const sqlite = () => ({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db') });

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-process-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  describe('reflection and health, as grpcurl sees them', () => {
    let server: ServerProcess;
    let grpcurl: MiniGrpcurl;
    let ownDirectory: string;
    before(async () => {
      ownDirectory = mkdtempSync(join(tmpdir(), 'provenance-process-'));
      server = await startServer({ PROVENANCE_SQLITE_PATH: join(ownDirectory, 'provenance.db') });
      grpcurl = new MiniGrpcurl(server.address);
    });
    after(async () => {
      grpcurl.close();
      await server.stop();
      rmSync(ownDirectory, { recursive: true, force: true });
    });

    it('lists the service, health and reflection', async () => {
      expect(await grpcurl.list()).to.deep.equal([
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
        'provenance.v1.ProvenanceService',
      ]);
    });

    it('describes every method with its comment, and resolves every imported type', async () => {
      const { registry, files } = await grpcurl.describe('provenance.v1.ProvenanceService');
      const service = registry.getService('provenance.v1.ProvenanceService')!;
      expect(service.methods.map((m) => m.name)).to.include.members(['RecordJob', 'GetLineage', 'WatchEvents']);
      expect(registry.getMessage('google.protobuf.Struct')).to.not.equal(undefined);
      const file = files.find((f) => f.name === 'provenance/v1/provenance_service.proto')!;
      const methodComments = file.sourceCodeInfo!.location.filter((l) => l.path.length === 4 && l.path[0] === 6 && l.path[2] === 2);
      expect(methodComments).to.have.length(service.methods.length);
      for (const location of methodComments) expect(location.leadingComments.trim()).not.to.equal('');
    });

    it('calls methods with JSON bodies', async () => {
      await grpcurl.call('provenance.v1.ProvenanceService/RecordJob', {
        jobId: 'raw-data',
        type: 'ingest',
        payload: { source: 's3://bucket/raw.csv' },
        status: 'JOB_STATUS_SUCCEEDED',
        outputHash: 'sha256:1111',
      });
      await grpcurl.call('provenance.v1.ProvenanceService/RecordJob', {
        jobId: 'features',
        type: 'featurize',
        parentJobIds: ['raw-data'],
        status: 'JOB_STATUS_SUCCEEDED',
        output: { rows: 1000 },
      });
      const lineage = (await grpcurl.call('provenance.v1.ProvenanceService/GetLineage', { jobId: 'features', direction: 'LINEAGE_DIRECTION_ANCESTORS' })) as {
        nodes: Array<{ jobId: string; depth: number }>;
      };
      expect(lineage.nodes).to.deep.equal([{ jobId: 'raw-data', depth: 1, relation: 'LINEAGE_RELATION_ANCESTOR', type: 'ingest', status: 'JOB_STATUS_SUCCEEDED', cacheState: 'CACHE_STATE_FRESH' }]);
    });

    it('reports SERVING once the store answers', async () => {
      expect(await grpcurl.call('grpc.health.v1.Health/Check', {})).to.deep.equal({ status: 'SERVING' });
      expect(await grpcurl.call('grpc.health.v1.Health/Check', { service: 'provenance.v1.ProvenanceService' })).to.deep.equal({ status: 'SERVING' });
    });
  });

  it('keeps the data across a restart on the same SQLite file', async () => {
    const first = await startServer(sqlite());
    const api = connect(first.address);
    const job = await api.recordJob({ jobId: 'survivor', type: 'keep', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' });
    api.close();
    expect(await first.stop('SIGTERM')).to.equal(0);

    const second = await startServer(sqlite());
    const again = connect(second.address);
    try {
      expect(await again.getJob({ jobId: 'survivor' })).to.deep.equal(job);
    } finally {
      again.close();
      await second.stop();
    }
  });

  it('on SIGTERM reports NOT_SERVING, then ends open streams after the grace period and exits 0', async () => {
    const server = await startServer({ ...sqlite(), PROVENANCE_SHUTDOWN_GRACE_MS: '300' });
    const client = new Client(server.address, credentials.createInsecure());
    const statuses: string[] = [];
    // grpc.health.v1.Health/Watch never ends on its own: it holds the server open.
    const watch = client.makeServerStreamRequest(
      '/grpc.health.v1.Health/Watch',
      () => Buffer.alloc(0),
      // HealthCheckResponse is one varint field: 0x08, then 1 for SERVING or 2 for NOT_SERVING.
      (bytes: Buffer) => (bytes[1] === 1 ? 'SERVING' : bytes[1] === 2 ? 'NOT_SERVING' : `other ${bytes.toString('hex')}`),
      {},
    );
    const ended = new Promise<void>((resolve) => watch.on('error', () => resolve()).on('end', () => resolve()));
    await new Promise<void>((resolve) => watch.once('data', (s: string) => (statuses.push(s), resolve())));
    watch.on('data', (s: string) => statuses.push(s));

    expect(await server.stop('SIGTERM')).to.equal(0);
    await ended;
    client.close();
    expect(statuses).to.deep.equal(['SERVING', 'NOT_SERVING']);
    expect(server.output()).to.match(/forcing shutdown/);
  });

  it('refuses a bad configuration value with one line naming the variable', () => {
    const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));
    const run = spawnSync(process.execPath, [main], { env: { ...process.env, ...sqlite(), PROVENANCE_MAX_LINEAGE_DEPTH: 'deep' }, encoding: 'utf8' });
    expect(run.status).to.equal(2);
    expect(run.stdout).to.equal('');
    expect(run.stderr).to.equal('provenance: configuration error: PROVENANCE_MAX_LINEAGE_DEPTH: must be a whole number, got "deep"\n');
  });
});
