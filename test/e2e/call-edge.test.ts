import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus } from '@provenance/client';
import { sqliteLane } from '../support/execution.js';
import { collectEvents, connect, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { restCall } from '../support/rest.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

/** The smallest PROVENANCE_MAX_REQUEST_FIELDS: a request naming more ids than this is not decoded. */
const MAX_FIELDS = 100;

/**
 * Every call of ProvenanceService passes one edge (src/grpc/call.ts) that
 * audits it and translates its outcome: a unary call, the WatchEvents stream
 * and their REST twins alike, each audited once.
 */
describe('the call edge', function () {
  this.timeout(60_000);
  const lane = sqliteLane();
  let server: ServerProcess;
  let api: Client;

  before(async () => {
    server = await startServer({ ...(await lane.env()), PROVENANCE_MAX_REQUEST_FIELDS: String(MAX_FIELDS) });
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.stop();
    await lane.dispose();
  });

  it('audits a request it cannot decode as INVALID_ARGUMENT naming no job, unary, streamed or through REST', async () => {
    const ids = Array.from({ length: MAX_FIELDS + 1 }, (_, i) => `undecoded-${i}`);
    const recorded = await failure(api.recordJob({ jobId: 'child', type: 't', parentJobIds: ids, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' }));
    const watched = await collectEvents(api.events({ jobIds: ids }), 1);
    const streamedOverRest = await restCall(server.httpAddress, 'GET', `/events?${ids.map((id) => `job_ids=${id}`).join('&')}`);

    for (const error of [recorded, watched.error]) {
      expect(error?.code).to.equal(status.INVALID_ARGUMENT);
      expect(statusDetails(error).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['request']);
    }
    expect(watched.events).to.deep.equal([]);
    expect(streamedOverRest.status).to.equal(400);
    const trail = (await api.listAuditEvents({ pageSize: 100 })).auditEvents
      .filter((entry) => !entry.method.endsWith('/ListAuditEvents'))
      .map((entry) => ({ method: entry.method, outcome: entry.outcome, jobIds: entry.jobIds }));
    const refused = (method: string) => ({ method: `/provenance.v1.ProvenanceService/${method}`, outcome: 'INVALID_ARGUMENT', jobIds: [] });
    expect(trail).to.have.deep.members([refused('RecordJob'), refused('WatchEvents'), refused('WatchEvents')]);
  });
});
