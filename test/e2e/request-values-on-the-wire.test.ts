import { status } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { expect } from 'chai';
import { JobStatus } from '@provenance/client';
import { RecordJobRequest } from '@provenance/client/gen/provenance/v1/provenance_service';
import { connect, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { sqliteLane } from '../support/execution.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

/**
 * Request values a decoder would take as something else, sent as raw bytes,
 * as a client of another library may send them, are INVALID_ARGUMENT on
 * their field: Timestamps out of range (nanos carried into the seconds, or
 * outside a Timestamp's range), as_of (issue #16 item 1) and the other
 * Timestamp fields alike; and a google.protobuf.Value with no kind, whose
 * Struct member the decoder would drop, so that the record would be stored
 * and hashed without it.
 */
describe('request Timestamps and JSON values on the wire', function () {
  this.timeout(120_000);
  const lane = sqliteLane();
  let server: ServerProcess;
  let api: Client;

  before(async () => {
    server = await startServer(await lane.env());
    api = connect(server.address);
    await api.recordJob({ jobId: 'stamped', type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' });
  });
  after(async () => {
    api?.close();
    await server?.stop();
    await lane.dispose();
  });

  /** A request of a job id (field 1) and a Timestamp in field number `field`, with those seconds and nanos. */
  function requestBytes(jobId: string, field: number, seconds: bigint, nanos: number, extra: (writer: BinaryWriter) => void = () => {}): Buffer {
    const writer = new BinaryWriter();
    writer.tag(1, 2).string(jobId);
    extra(writer);
    writer.tag(field, 2).fork().tag(1, 0).int64(seconds).tag(2, 0).int32(nanos).join();
    return Buffer.from(writer.finish());
  }

  function rawUnary(path: string, bytes: Buffer): Promise<Buffer> {
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

  const violations = async (call: Promise<unknown>) => {
    const error = await failure(call);
    expect(error.code).to.equal(status.INVALID_ARGUMENT);
    return statusDetails(error).badRequest!.fieldViolations.map((v) => [v.field, v.description]);
  };

  const SERVICE = '/provenance.v1.ProvenanceService';
  const NOW = BigInt(Math.floor(Date.now() / 1000));

  it('refuses an as_of with nanos out of range, or out of the Timestamp range, on every method that takes one', async () => {
    const methods: Array<[string, number]> = [
      ['GetJob', 2],
      ['GetLineage', 10],
      ['ListDependents', 5],
      ['ExportProvenanceGraph', 9],
    ];
    for (const [method, field] of methods) {
      for (const [seconds, nanos, description] of [
        [NOW, 1_000_000_000, 'nanos must be from 0 to 999999999, not 1000000000'],
        [NOW, -1, 'nanos must be from 0 to 999999999, not -1'],
        [253_402_300_800n, 0, 'must be a valid time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z'],
        [-62_135_596_801n, 0, 'must be a valid time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z'],
      ] as const) {
        const answer = rawUnary(`${SERVICE}/${method}`, requestBytes('stamped', field, seconds, nanos));
        expect(await violations(answer), `${method} ${seconds}s ${nanos}ns`).to.deep.equal([['as_of', description]]);
      }
    }
  });

  it('refuses it on StreamLineage before the stream sends anything', async () => {
    const stream = api.raw.makeServerStreamRequest(`${SERVICE}/StreamLineage`, (value: Buffer) => value, (value: Buffer) => value, requestBytes('stamped', 10, NOW, 2_000_000_000));
    const received: Buffer[] = [];
    const error = await new Promise<unknown>((resolve) => {
      stream.on('data', (message: Buffer) => received.push(message));
      stream.on('error', resolve);
      stream.on('end', () => resolve(undefined));
    });
    expect(received).to.deep.equal([]);
    expect(await violations(Promise.reject(error))).to.deep.equal([['as_of', 'nanos must be from 0 to 999999999, not 2000000000']]);
  });

  it('answers a valid as_of sent as raw bytes, and refuses a start_time with nanos out of range on RecordJob too', async () => {
    const job = await rawUnary(`${SERVICE}/GetJob`, requestBytes('stamped', 2, NOW + 3600n, 999_999_999));
    expect(job.length).to.be.greaterThan(0);
    const recordJob = requestBytes('bad-start', 8, NOW, 1_500_000_000, (writer) => writer.tag(3, 2).string('t').tag(7, 0).int32(JobStatus.JOB_STATUS_RUNNING));
    expect(await violations(rawUnary(`${SERVICE}/RecordJob`, recordJob))).to.deep.equal([['start_time', 'nanos must be from 0 to 999999999, not 1500000000']]);
  });

  it('refuses a payload member holding a Value with no kind, and stores nothing', async () => {
    const record = RecordJobRequest.encode(RecordJobRequest.fromPartial({ jobId: 'kindless', type: 't', status: 4, outputHash: 'sha256:x', payload: { a: 1 } })).finish();
    // A second payload (field 4), merged into the first by a decoder: member b, a Value{} (the entry: key "b", value of no bytes).
    const kindless = Buffer.concat([record, Buffer.from([0x22, 0x07, 0x0a, 0x05, 0x0a, 0x01, 0x62, 0x12, 0x00])]);
    expect(await violations(rawUnary(`${SERVICE}/RecordJob`, kindless))).to.deep.equal([['payload', 'holds a google.protobuf.Value with no kind set (send null as null_value)']]);
    expect((await failure(api.getJob({ jobId: 'kindless' }))).code).to.equal(status.NOT_FOUND);
    // The same record without it is stored.
    await rawUnary(`${SERVICE}/RecordJob`, Buffer.from(record));
    expect((await api.getJob({ jobId: 'kindless' })).payload).to.deep.equal({ a: 1 });
  });
});
