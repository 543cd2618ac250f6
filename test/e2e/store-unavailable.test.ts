import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus } from '@provenance/client';
import { connect, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { MiniGrpcurl } from '../support/mini-grpcurl.js';
import { startEmulatorProcess, type EmulatorProcess } from '../support/mongo-lane.js';
import { startTcpProxy, type TcpProxy } from '../support/net.js';
import { printServerWarningsOnFailure, startServer, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/waits.js';

/** Far beyond what a call takes with its store down (a second or two here), so that a call that hangs fails naming itself. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * Calls whose store is down answer UNAVAILABLE with the store's own reason,
 * not the audit trail's, although the audit write fails too: RecordJob first,
 * since its insert is the write whose driver error used to be misjudged.
 */
async function expectStoreUnavailable(api: Client): Promise<void> {
  const calls = {
    RecordJob: () => api.recordJob({ type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' }),
    GetJob: () => api.getJob({ jobId: 'before' }),
    GetLineage: () => api.getLineage({ jobId: 'before' }),
  };
  for (const [name, call] of Object.entries(calls)) {
    const error = await failure(call());
    expect(error.code, `${name}: ${error.message}`).to.equal(status.UNAVAILABLE);
    const details = statusDetails(error);
    expect(details.errorInfo?.reason, name).to.equal('STORE_UNAVAILABLE');
    expect(details.retryInfo?.retryDelay, name).to.not.equal(undefined);
    expect(error.details, name).not.to.contain('127.0.0.1');
  }
}

/**
 * The server reaches its database through a proxy the test owns, so that
 * the database's address stays the test's after the database is gone: a
 * stopped emulator's port may be taken by any other process of a parallel
 * run, and the server would reconnect to that instead.
 */
async function startServerBehindProxy(database: EmulatorProcess, env: Record<string, string>, uriOptions = ''): Promise<{ proxy: TcpProxy; server: ServerProcess }> {
  const proxy = await startTcpProxy(new URL(database.uri).host);
  const uri = new URL(database.uri);
  uri.host = proxy.address;
  const server = await startServer({ ...env, MONGODB_URI: `${uri.href}${uriOptions}` });
  return { proxy, server };
}

describe('when the database goes away', function () {
  this.timeout(60_000);
  let database: EmulatorProcess;
  let proxy: TcpProxy;
  let server: ServerProcess;

  before(async () => {
    // A private emulator, even when MONGODB_URI names a real server: stopping it is how the database goes away.
    database = await startEmulatorProcess();
    ({ proxy, server } = await startServerBehindProxy(database, {
      PROVENANCE_MONGODB_DATABASE: 'unavailable_test',
      PROVENANCE_STORE_TIMEOUT_MS: '1000',
      PROVENANCE_HEALTH_CHECK_INTERVAL_MS: '200',
    }));
  });
  printServerWarningsOnFailure(() => server);
  after(async () => {
    await server?.stop();
    await proxy?.close();
    await database?.stop();
  });

  it('answers UNAVAILABLE with a retry delay, and health says NOT_SERVING', async () => {
    const api = connect(server.address, { timeoutMs: CALL_TIMEOUT_MS });
    const grpcurl = new MiniGrpcurl(server.address);
    try {
      await api.recordJob({ jobId: 'before', type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' });
      // The proxy now finds nothing listening behind it, and closes each connection the server opens: the database is gone.
      await database.stop();

      await expectStoreUnavailable(api);
      await until(
        async () => ((await grpcurl.call('grpc.health.v1.Health/Check', {})) as { status: string }).status === 'NOT_SERVING',
        'health to say NOT_SERVING',
      );
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
  let proxy: TcpProxy;
  let server: ServerProcess;

  before(async () => {
    database = await startEmulatorProcess();
    ({ proxy, server } = await startServerBehindProxy(
      database,
      { PROVENANCE_MONGODB_DATABASE: 'hung_test', PROVENANCE_STORE_TIMEOUT_MS: '1000' },
      // The driver's monitor checks every half second, so it soon gives the hung server up.
      '&heartbeatFrequencyMS=500',
    ));
  });
  printServerWarningsOnFailure(() => server);
  after(async () => {
    await server?.stop();
    await proxy?.close();
    await database?.stop();
  });

  /**
   * Once the driver's monitor has given the server up, every operation fails
   * at server selection, whatever the timing; an insert's failure then comes
   * wrapped in a bulk write error, which was answered INTERNAL and so
   * replaced by the audit trail's failure (AUDIT_UNAVAILABLE).
   */
  it('answers UNAVAILABLE for the store, not for the audit trail', async () => {
    const api = connect(server.address, { timeoutMs: CALL_TIMEOUT_MS });
    try {
      await api.recordJob({ jobId: 'before', type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' });
      proxy.hang();

      // Reads until one fails at server selection (the server log names the driver's error): the monitor has given up.
      for (const deadline = Date.now() + 60_000; !/"type":"MongoServerSelectionError"/.test(server.output()); ) {
        expect(Date.now(), 'the driver never gave the hung database up').to.be.below(deadline);
        const error = await failure(api.getJob({ jobId: 'before' }));
        expect(statusDetails(error).errorInfo?.reason, error.message).to.equal('STORE_UNAVAILABLE');
      }
      await expectStoreUnavailable(api);
    } finally {
      api.close();
    }
  });
});
