import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus, type RecordJobRequest, type DeepPartial } from '@provenance/client';
import { connect, decodeStatus, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { sqliteLane } from '../support/execution.js';
import { restCall } from '../support/rest.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

/** Issue #12, item 4: the parents of a job and of a batch are bounded, and a refusal is cheap and small. */
describe('input limits: parents (PROVENANCE_MAX_PARENTS, PROVENANCE_MAX_BATCH_PARENTS)', function () {
  this.timeout(120_000);
  const lane = sqliteLane();
  let server: ServerProcess;
  let api: Client;

  before(async () => {
    // Room for a million parents: what is tested here is the bound on parents, checked after the request's field count.
    server = await startServer({ ...(await lane.env()), PROVENANCE_MAX_REQUEST_FIELDS: '2000000' });
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.stop();
    await lane.dispose();
  });

  const duplicateParents = (records: number, parents: number): Array<DeepPartial<RecordJobRequest>> =>
    Array.from({ length: records }, (_, i) => ({
      jobId: `dup-${records}-${i}`,
      type: 't',
      status: JobStatus.JOB_STATUS_SUCCEEDED,
      outputHash: 'h',
      allowMissingParents: true,
      parentJobIds: new Array<string>(parents).fill('same-parent'),
    }));

  it('refuses 1,000 records of 1,000 duplicate parents as a whole with one violation, and stores nothing', async () => {
    // 12 MB of request: it used to hold the event loop for seconds and fail with an answer over the message size limit.
    const error = await failure(api.batchRecordJobs({ requests: duplicateParents(1000, 1000) }));
    expect(error.code).to.equal(status.INVALID_ARGUMENT);
    expect(statusDetails(error).badRequest?.fieldViolations).to.deep.equal([
      {
        field: 'requests',
        description: 'at most 10000 parents in all the records of a batch (PROVENANCE_MAX_BATCH_PARENTS); got 1000000',
        reason: '',
        localizedMessage: undefined,
      },
    ]);
    expect((await api.listJobs({})).jobs).to.deep.equal([]);
  });

  it('refuses each record of duplicate parents with one violation that counts them', async () => {
    const response = await api.batchRecordJobs({ requests: duplicateParents(10, 1000) });
    for (const result of response.results) {
      expect(result.status!.code).to.equal(status.INVALID_ARGUMENT);
      expect(decodeStatus(result.status!).badRequest?.fieldViolations.map((v) => [v.field, v.description])).to.deep.equal([
        ['parent_job_ids[1]', 'duplicate of parent_job_ids[0] (same-parent); parents must be distinct (999 duplicates in all; the first is reported)'],
      ]);
    }
    expect((await api.listJobs({})).jobs).to.deep.equal([]);
  });

  it('refuses a job of more than PROVENANCE_MAX_PARENTS parents in SubmitJob and RerunJob, however many', async () => {
    const tooMany = Array.from({ length: 1001 }, (_, i) => `p${i}`);
    // 300,000 ids used to stop the server: auditing the refused call spread them into one function call's arguments.
    const farTooMany = Array.from({ length: 300_000 }, (_, i) => `p${i}`);
    for (const call of [
      () => api.submitJob({ type: 'echo', parentJobIds: tooMany }),
      () => api.submitJob({ type: 'echo', parentJobIds: farTooMany }),
      () => api.rerunJob({ jobId: 'any', replaceParents: true, parentJobIds: farTooMany }),
      () => api.recordJob({ type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h', parentJobIds: farTooMany }),
    ]) {
      const error = await failure(call());
      expect(error.code).to.equal(status.INVALID_ARGUMENT);
      const [violation, ...others] = statusDetails(error).badRequest!.fieldViolations;
      expect(others).to.deep.equal([]);
      expect(violation!.field).to.equal('parent_job_ids');
      expect(violation!.description).to.match(/^at most 1000 parents \(PROVENANCE_MAX_PARENTS\); got (1001|300000)$/);
    }
    expect((await api.listJobs({})).jobs).to.deep.equal([]);
  });
});

/** A request is refused by its count of fields before it is decoded: decoding costs per field, and a flood of tiny ones took the process past its heap. */
describe('input limits: fields per request (PROVENANCE_MAX_REQUEST_FIELDS)', function () {
  this.timeout(120_000);
  const lane = sqliteLane();
  let server: ServerProcess;
  let api: Client;

  before(async () => {
    server = await startServer({ ...(await lane.env()), PROVENANCE_MAX_MESSAGE_BYTES: String(80 * 1024 * 1024) });
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.stop();
    await lane.dispose();
  });

  /** Count copies of a field encoded as unit, as a raw request body. */
  const repeated = (unit: number[], count: number) => {
    const bytes = Buffer.alloc(unit.length * count);
    for (let i = 0; i < count; i++) bytes.set(unit, i * unit.length);
    return bytes;
  };

  it('refuses 64 MiB of empty batch records, and a million empty parent ids, without decoding them, and goes on serving', async () => {
    // BatchRecordJobsRequest.requests (field 1), each an empty record: two bytes apiece. Decoded, this took the server past its heap limit.
    const records = repeated([0x0a, 0x00], 32 * 1024 * 1024);
    // RecordJobRequest.parent_job_ids (field 6), each empty.
    const parents = repeated([0x32, 0x00], 1_000_000);
    for (const [method, bytes] of [['BatchRecordJobs', records], ['RecordJob', parents]] as const) {
      const error = await failure(rawUnary(api, `/provenance.v1.ProvenanceService/${method}`, bytes));
      expect(error.code, method).to.equal(status.INVALID_ARGUMENT);
      expect(statusDetails(error).badRequest?.fieldViolations.map((v) => [v.field, v.description]), method).to.deep.equal([
        ['request', 'holds more than 250000 fields, nested ones included (PROVENANCE_MAX_REQUEST_FIELDS): send it in smaller parts'],
      ]);
    }
    expect((await api.listJobs({})).jobs).to.deep.equal([]);
    expect((await fetch(`http://${server.httpAddress}/healthz`)).status).to.equal(200);
  });

  it('counts nested fields too: a payload of many members is refused as a batch of many records is', async () => {
    const members = Object.fromEntries(Array.from({ length: 260_000 }, (_, i) => [`k${i}`, i]));
    const error = await failure(api.recordJob({ type: 't', payload: members, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' }));
    expect(error.code).to.equal(status.INVALID_ARGUMENT);
    expect(statusDetails(error).badRequest?.fieldViolations[0]?.field).to.equal('request');
    // A full batch of ordinary records is far below the bound.
    const batch = Array.from({ length: 1000 }, (_, i) => ({ jobId: `ordinary-${i}`, type: 't', payload: { a: i, b: [1, 2, 3], c: { d: 'e' } }, labels: { team: 'x' }, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' }));
    const results = (await api.batchRecordJobs({ requests: batch })).results;
    expect(results.every((r) => r.status!.code === status.OK)).to.equal(true);
  });

  it('refuses a REST body of too many fields by its count, before the rest of it is checked', async () => {
    // 780 KB of empty records with an unknown field: a check of the whole body would name the field, the count names the request.
    const records = `{"unknownField": 1, "requests": [${new Array(260_000).fill('{}').join(',')}]}`;
    const labels = JSON.stringify({ type: 'rest-fields', unknownField: 1, labels: Object.fromEntries(Array.from({ length: 260_000 }, (_, i) => [`k${i}`, 'v'])) });
    const list = JSON.stringify({ type: 'rest-fields', unknownField: 1, payload: { list: new Array(260_000).fill(0) } });
    for (const [path, body] of [['/jobs:batchRecord', records], ['/jobs:record', labels], ['/jobs:record', list]] as const) {
      const answer = await restCall(server.httpAddress, 'POST', path, body);
      expect(answer.status, path).to.equal(400);
      const details = (answer.body as { error: { details: Array<{ fieldViolations?: Array<{ field: string; description: string }> }> } }).error.details;
      expect(details.flatMap((detail) => detail.fieldViolations ?? []), path).to.deep.equal([
        { field: 'request', description: 'holds more than 250000 fields, nested ones included (PROVENANCE_MAX_REQUEST_FIELDS): send it in smaller parts' },
      ]);
    }
    expect((await api.listJobs({ filter: 'type = "rest-fields"' })).jobs).to.deep.equal([]);
  });
});

/** A unary call with bytes sent as they are: what a client of another library, or an attacker, may send. */
function rawUnary(api: Client, path: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    api.raw.makeUnaryRequest(
      path,
      (value: Buffer) => value,
      (value: Buffer) => value,
      bytes,
      (error, value) => (error ? reject(error) : resolve(value!)),
    );
  });
}
