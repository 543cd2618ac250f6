import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus } from '@provenance/client';
import { connect, failure, statusDetails } from '../support/grpc-client.js';
import { MiniGrpcurl } from '../support/mini-grpcurl.js';
import { startEmulatorProcess, type EmulatorProcess } from '../support/mongo-lane.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

describe('when the database goes away', function () {
  this.timeout(60_000);
  let database: EmulatorProcess;
  let server: ServerProcess;

  before(async () => {
    // A private emulator, even when MONGODB_URI names a real server: stopping it is how the database goes away.
    database = await startEmulatorProcess();
    server = await startServer({
      MONGODB_URI: database.uri,
      PROVENANCE_MONGODB_DATABASE: 'unavailable_test',
      PROVENANCE_STORE_TIMEOUT_MS: '1000',
      PROVENANCE_HEALTH_CHECK_INTERVAL_MS: '200',
    });
  });
  after(async () => {
    await server?.stop();
    await database?.stop();
  });

  it('answers UNAVAILABLE with a retry delay, and health says NOT_SERVING', async () => {
    const api = connect(server.address);
    const grpcurl = new MiniGrpcurl(server.address);
    try {
      await api.recordJob({ jobId: 'before', type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' });
      await database.stop();

      const calls = [
        () => api.getJob({ jobId: 'before' }),
        () => api.recordJob({ type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' }),
        () => api.getLineage({ jobId: 'before' }),
      ];
      for (const call of calls) {
        const error = await failure(call());
        expect(error.code).to.equal(status.UNAVAILABLE);
        const details = statusDetails(error);
        expect(details.errorInfo?.reason).to.equal('STORE_UNAVAILABLE');
        expect(details.retryInfo?.retryDelay).to.not.equal(undefined);
        expect(error.details).not.to.contain('127.0.0.1');
      }
      let health: unknown;
      for (let attempt = 0; attempt < 50; attempt++) {
        health = await grpcurl.call('grpc.health.v1.Health/Check', {});
        if ((health as { status: string }).status === 'NOT_SERVING') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(health).to.deep.equal({ status: 'NOT_SERVING' });
      expect(server.output()).to.match(/"level":40[^\n]*the database is unavailable/);
    } finally {
      api.close();
      grpcurl.close();
    }
  });
});
