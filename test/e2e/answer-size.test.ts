import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import {
  BatchRecordJobsRequest,
  GraphFormat,
  JobStatus,
  LineageDirection,
  LineageView,
  outputHash,
  RecordJobRequest,
  type DeepPartial,
} from '@provenance/client';
import { connect, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { sqliteLane } from '../support/execution.js';
import { restCall } from '../support/rest.js';
import { printServerWarningsOnFailure, startServer, type ServerProcess } from '../support/server-process.js';

/**
 * Answers over the send limit (PROVENANCE_MAX_MESSAGE_BYTES, 64 KiB here so
 * that a few records of 10,000 characters pass it): a write whose answer
 * would be over it is refused before anything is stored, a ListJobs page
 * ends early with a token, and a read whose answer is over it is refused
 * with ANSWER_TOO_LARGE and its details, not grpc-js's bare "Sent message
 * larger than max".
 */
describe('answers over the send limit (PROVENANCE_MAX_MESSAGE_BYTES)', function () {
  this.timeout(120_000);
  const MAX_MESSAGE_BYTES = 64 * 1024;
  const lane = sqliteLane();
  let server: ServerProcess | undefined;
  let api: Client;

  before(async () => {
    server = await startServer({ ...(await lane.env()), PROVENANCE_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.stop();
    await lane.dispose();
  });
  printServerWarningsOnFailure(() => server);

  const succeeded = (jobId: string, payloadCharacters: number): DeepPartial<RecordJobRequest> => ({
    jobId,
    type: 'edge',
    status: JobStatus.JOB_STATUS_SUCCEEDED,
    outputHash: 'sha256:aa',
    payload: { s: 'e'.repeat(payloadCharacters) },
  });

  /** The payload length that makes `records` such records a request of just under the limit: each answer adds its hashes, times, etag..., so it is over. */
  const payloadJustUnderLimit = (records: number, encodedBytes: (payloadCharacters: number) => number): number => {
    const overhead = encodedBytes(0);
    const characters = Math.floor((MAX_MESSAGE_BYTES - 64 - overhead) / records);
    const bytes = encodedBytes(characters);
    expect(bytes).to.be.within(MAX_MESSAGE_BYTES - 128, MAX_MESSAGE_BYTES);
    return characters;
  };

  const expectAnswerTooLarge = (error: ServiceError) => {
    expect(error.code).to.equal(status.RESOURCE_EXHAUSTED);
    const { errorInfo } = statusDetails(error);
    expect(errorInfo).to.include({ reason: 'ANSWER_TOO_LARGE', domain: 'provenance.v1' });
    expect(errorInfo!.metadata).to.include({ maxMessageBytes: String(MAX_MESSAGE_BYTES) });
    expect(Number(errorInfo!.metadata.answerBytes)).to.be.above(MAX_MESSAGE_BYTES);
  };

  const expectNotStored = async (jobId: string) => expect((await failure(api.getJob({ jobId }))).code).to.equal(status.NOT_FOUND);

  it('refuses a batch whose request fits but whose answer would not, storing none of its records', async () => {
    const records = (characters: number) => Array.from({ length: 6 }, (_, i) => succeeded(`edge-${i}`, characters));
    const characters = payloadJustUnderLimit(6, (n) => BatchRecordJobsRequest.encode(BatchRecordJobsRequest.fromPartial({ requests: records(n) })).finish().byteLength);

    expectAnswerTooLarge(await failure(api.batchRecordJobs({ requests: records(characters) })));
    await expectNotStored('edge-0');
    await expectNotStored('edge-5');

    // Half as many fit, and are stored.
    const half = await api.batchRecordJobs({ requests: records(characters).slice(0, 3) });
    expect(half.results.map((result) => result.status?.code)).to.deep.equal([status.OK, status.OK, status.OK]);
    expect((await api.getJob({ jobId: 'edge-2' })).status).to.equal(JobStatus.JOB_STATUS_SUCCEEDED);
  });

  it('refuses a RecordJob whose answer would be over the limit, storing nothing', async () => {
    const characters = payloadJustUnderLimit(1, (n) => RecordJobRequest.encode(RecordJobRequest.fromPartial(succeeded('single', n))).finish().byteLength);
    expectAnswerTooLarge(await failure(api.recordJob(succeeded('single', characters))));
    await expectNotStored('single');
  });

  it('refuses an update whose answer, with what is stored, would be over the limit, and leaves the record as it was', async () => {
    // The request is small; its answer holds the 40,000-character metadata stored before, which the request leaves out.
    const payload = { s: 'p'.repeat(10_000) };
    const running = await api.recordJob({ jobId: 'grown', type: 'edge', status: JobStatus.JOB_STATUS_RUNNING, payload, metadata: { m: 'm'.repeat(40_000) } });
    const output = 'o'.repeat(30_000);
    const error = await failure(api.recordJob({ jobId: 'grown', type: 'edge', status: JobStatus.JOB_STATUS_SUCCEEDED, payload, outputHash: outputHash(output), output }));
    expectAnswerTooLarge(error);
    const stored = await api.getJob({ jobId: 'grown' });
    expect(stored.status).to.equal(JobStatus.JOB_STATUS_RUNNING);
    expect(stored.etag).to.equal(running.etag);
    expect(stored.result).to.equal(undefined);
  });

  describe('reads', () => {
    const listed = Array.from({ length: 10 }, (_, i) => `listed-${i}`);

    before(async () => {
      for (const jobId of listed) await api.recordJob({ ...succeeded(jobId, 10_000), type: 'listed' });
      await api.recordJob({ jobId: 'listed-child', type: 'child', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'sha256:cc', parentJobIds: listed });
    });

    it('ends a ListJobs page early, with a token, where the next job would pass the limit', async () => {
      const pages: string[][] = [];
      let pageToken = '';
      do {
        const page = await api.listJobs({ filter: 'type = "listed"', pageToken });
        pages.push(page.jobs.map((job) => job.jobId));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(pages.length).to.be.above(1);
      expect(pages.flat().sort()).to.deep.equal([...listed].sort());
    });

    it('pages GET /jobs the same', async () => {
      const answer = await restCall(server!.httpAddress, 'GET', `/jobs?filter=${encodeURIComponent('type = "listed"')}`);
      expect(answer.status).to.equal(200);
      const body = answer.body as { jobs: unknown[]; nextPageToken: string };
      expect(body.jobs.length).to.be.within(1, listed.length - 1);
      expect(body.nextPageToken).to.not.equal('');
    });

    it('refuses a full lineage and a native export over the limit with ANSWER_TOO_LARGE', async () => {
      const ancestors = { jobId: 'listed-child', direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS };
      expectAnswerTooLarge(await failure(api.getLineage({ ...ancestors, view: LineageView.LINEAGE_VIEW_FULL })));
      expectAnswerTooLarge(await failure(api.exportProvenanceGraph({ ...ancestors, format: GraphFormat.GRAPH_FORMAT_NATIVE })));
      // The ids alone fit.
      expect((await api.getLineage({ ...ancestors, view: LineageView.LINEAGE_VIEW_IDS })).nodes).to.have.length(listed.length);
    });

    it('answers the REST twin of a lineage over the limit with the same reason, and no Retry-After', async () => {
      const answer = await restCall(server!.httpAddress, 'GET', '/jobs/listed-child/lineage?direction=LINEAGE_DIRECTION_ANCESTORS&view=LINEAGE_VIEW_FULL');
      expect(answer.status).to.equal(429);
      expect(answer.headers.get('retry-after')).to.equal(null);
      const { error } = answer.body as { error: { status: string; details: Array<{ reason?: string }> } };
      expect(error.status).to.equal('RESOURCE_EXHAUSTED');
      expect(error.details.map((detail) => detail.reason)).to.include('ANSWER_TOO_LARGE');
    });
  });
});
