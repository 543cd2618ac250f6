import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { RecordJobRequest } from '@provenance/client/gen/provenance/v1/provenance_service';
import { connect, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { sqliteLane } from '../support/execution.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

/**
 * A google.protobuf.Value with no kind, sent as raw bytes as a client of
 * another library may send it, is INVALID_ARGUMENT on the field that holds
 * it: the decoder would drop the Struct member holding it, and the record
 * would be stored and hashed without it.
 */
describe('JSON values on the wire', function () {
  this.timeout(120_000);
  const lane = sqliteLane();
  let server: ServerProcess;
  let api: Client;

  before(async () => {
    server = await startServer(await lane.env());
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.stop();
    await lane.dispose();
  });

  function rawRecordJob(bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      api.raw.makeUnaryRequest(
        '/provenance.v1.ProvenanceService/RecordJob',
        (value: Buffer) => value,
        (value: Buffer) => value,
        bytes,
        (error, value) => (error ? reject(error) : resolve(value!)),
      );
    });
  }

  it('refuses a payload member holding a Value with no kind, and stores nothing', async () => {
    const record = RecordJobRequest.encode(RecordJobRequest.fromPartial({ jobId: 'kindless', type: 't', status: 4, outputHash: 'sha256:x', payload: { a: 1 } })).finish();
    // A second payload (field 4), merged into the first by a decoder: member b, a Value{} (the entry: key "b", value of no bytes).
    const error = await failure(rawRecordJob(Buffer.concat([record, Buffer.from([0x22, 0x07, 0x0a, 0x05, 0x0a, 0x01, 0x62, 0x12, 0x00])])));
    expect(error.code).to.equal(status.INVALID_ARGUMENT);
    expect(statusDetails(error).badRequest!.fieldViolations.map((v) => [v.field, v.description])).to.deep.equal([
      ['payload', 'holds a google.protobuf.Value with no kind set (send null as null_value)'],
    ]);
    expect((await failure(api.getJob({ jobId: 'kindless' }))).code).to.equal(status.NOT_FOUND);
    // The same record without it is stored.
    await rawRecordJob(Buffer.from(record));
    expect((await api.getJob({ jobId: 'kindless' })).payload).to.deep.equal({ a: 1 });
  });
});
