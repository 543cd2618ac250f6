import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus } from '@provenance/client';
import { connect, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { MiniGrpcurl } from '../support/mini-grpcurl.js';
import { startEmulatorProcess, type EmulatorProcess } from '../support/mongo-lane.js';
import { listenSilently, type SilentListener } from '../support/net.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/waits.js';

/**
 * Calls whose store is down answer UNAVAILABLE with the store's own reason,
 * not the audit trail's, although the audit write fails too: RecordJob first,
 * since its insert is the write whose driver error used to be misjudged.
 */
async function expectStoreUnavailable(api: Client): Promise<void> {
  const calls = [
    () => api.recordJob({ type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' }),
    () => api.getJob({ jobId: 'before' }),
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
}

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

      await expectStoreUnavailable(api);
      let health: unknown;
      for (let attempt = 0; attempt < 50; attempt++) {
        health = await grpcurl.call('grpc.health.v1.Health/Check', {});
        if ((health as { status: string }).status === 'NOT_SERVING') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(health).to.deep.equal({ status: 'NOT_SERVING' });
      // Log lines are written up to 20 ms after they are logged (src/platform/logger.ts).
      await until(() => /"level":40[^\n]*the database is unavailable/.test(server.output()), 'the outage to be logged');
    } finally {
      api.close();
      grpcurl.close();
    }
  });
});

describe('when the database hangs (accepts connections, answers nothing)', function () {
  this.timeout(120_000);
  let database: EmulatorProcess;
  let hung: SilentListener | undefined;
  let server: ServerProcess;

  before(async () => {
    database = await startEmulatorProcess();
    server = await startServer({
      // The driver's monitor checks every half second, so it soon gives the hung server up.
      MONGODB_URI: `${database.uri}&heartbeatFrequencyMS=500`,
      PROVENANCE_MONGODB_DATABASE: 'hung_test',
      PROVENANCE_STORE_TIMEOUT_MS: '1000',
    });
  });
  after(async () => {
    await server?.stop();
    await hung?.close();
    await database?.stop();
  });

  /**
   * Once the driver's monitor has given the server up, every operation fails
   * at server selection, whatever the timing; an insert's failure then comes
   * wrapped in a bulk write error, which was answered INTERNAL and so
   * replaced by the audit trail's failure (AUDIT_UNAVAILABLE).
   */
  it('answers UNAVAILABLE for the store, not for the audit trail', async () => {
    const api = connect(server.address);
    try {
      await api.recordJob({ jobId: 'before', type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' });
      await database.stop();
      hung = await listenSilently(Number(new URL(database.uri).port));

      // Reads until one fails at server selection (the server log names the driver's error): the monitor has given up.
      for (const deadline = Date.now() + 60_000; !/"type":"MongoServerSelectionError"/.test(server.output()); ) {
        expect(Date.now(), 'the driver never gave the hung database up').to.be.below(deadline);
        const error = await failure(api.getJob({ jobId: 'before' }));
        expect(statusDetails(error).errorInfo?.reason).to.equal('STORE_UNAVAILABLE');
      }
      await expectStoreUnavailable(api);
    } finally {
      api.close();
    }
  });
});
