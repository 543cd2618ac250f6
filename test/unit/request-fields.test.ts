import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { DESCRIPTOR_SET_PATH } from '../../src/platform/generated-documents.js';
import { BatchRecordJobsRequest, RecordJobRequest } from '@provenance/client/gen/provenance/v1/provenance_service';
import { requestFieldCounters, requestValueChecks } from '../../src/grpc/request-fields.js';

const counters = requestFieldCounters(readFileSync(DESCRIPTOR_SET_PATH));
const countRecordJob = counters.get('/provenance.v1.ProvenanceService/RecordJob')!;
const countBatch = counters.get('/provenance.v1.ProvenanceService/BatchRecordJobs')!;

describe('requestFieldCounters', () => {
  it('has a counter for every method of the service', () => {
    expect(counters.has('/provenance.v1.ProvenanceService/WatchEvents')).to.equal(true);
    expect(counters.has('/provenance.v1.ProvenanceService/ListAuditEvents')).to.equal(true);
  });

  it('counts every field on the wire, those of nested messages, map entries and Struct members included', () => {
    // type (1) + payload (1) + its two members (each an entry holding a key and a Value, which holds one kind: 4 apiece) + two parents + a label (entry, key, value).
    const bytes = RecordJobRequest.encode(RecordJobRequest.fromPartial({ type: 't', payload: { a: 1, b: 'x' }, parentJobIds: ['p', 'q'], labels: { k: 'v' } })).finish();
    expect(countRecordJob(bytes, 1000)).to.equal(1 + 1 + 2 * 4 + 2 + 3);
    const batch = BatchRecordJobsRequest.encode({ requests: [RecordJobRequest.fromPartial({ type: 't' }), RecordJobRequest.fromPartial({ type: 'u', parentJobIds: ['p'] })] }).finish();
    expect(countBatch(batch, 1000)).to.equal(2 + 1 + 2);
  });

  it('stops once past the limit, whatever the size of what follows', () => {
    const records = Buffer.alloc(2 * 10_000_000);
    for (let i = 0; i < records.length; i += 2) records[i] = 0x0a;
    expect(countBatch(records, 500)).to.equal(501);
  });

  it('ends without throwing on malformed bytes, and on nesting deeper than the decoder accepts', () => {
    expect(countRecordJob(Buffer.from([0x22, 0xff, 0xff, 0xff, 0xff, 0x0f]), 1000)).to.be.at.most(1);
    expect(countRecordJob(Buffer.from([0xff, 0xff, 0xff]), 1000)).to.be.at.most(1);
    // output (a Value) holding a ListValue holding a Value ..., half a million levels deep.
    const nested = [0x5a, 0x7f];
    for (let i = 0; i < 500_000; i++) nested.push(0x32, 0x7f, 0x0a, 0x7f);
    expect(countRecordJob(Buffer.from(nested), 10_000_000)).to.be.at.most(nested.length);
  });
});

describe('requestValueChecks', () => {
  const checks = requestValueChecks(readFileSync(DESCRIPTOR_SET_PATH));
  const checkRecordJob = checks.get('/provenance.v1.ProvenanceService/RecordJob')!;
  const checkBatch = checks.get('/provenance.v1.ProvenanceService/BatchRecordJobs')!;
  /** A Struct member b holding a Value with no kind: the entry (key "b", value Value{}), as field 1 of the Struct. */
  const memberWithoutKind = [0x0a, 0x05, 0x0a, 0x01, 0x62, 0x12, 0x00];
  const recordWith = (field: number, value: number[]) => Buffer.concat([RecordJobRequest.encode(RecordJobRequest.fromPartial({ jobId: 'j', type: 't' })).finish(), Buffer.from([(field << 3) | 2, value.length, ...value])]);

  it('has a check for the methods whose requests hold JSON, and none for the others', () => {
    expect(checks.has('/provenance.v1.ProvenanceService/SubmitJob')).to.equal(true);
    expect(checks.has('/provenance.v1.ProvenanceService/GetJob')).to.equal(false);
  });

  it('names the field that holds a Value with no kind, in a Struct, a list, or as the JSON itself', () => {
    // payload (4): a Struct whose member b has no kind; the decoder would drop b.
    expect(checkRecordJob(recordWith(4, memberWithoutKind))).to.deep.include({ field: 'payload' });
    // payload {l: [Value{}]}: a member holding a ListValue (6) of one Value with no kind.
    const list = [0x0a, 0x01, 0x6c, 0x12, 0x04, 0x32, 0x02, 0x0a, 0x00];
    expect(checkRecordJob(recordWith(4, [0x0a, list.length, ...list]))).to.deep.include({ field: 'payload' });
    const batch = Buffer.concat([
      BatchRecordJobsRequest.encode({ requests: [RecordJobRequest.fromPartial({ type: 't', payload: { a: 1 } })] }).finish(),
      Buffer.from([0x0a, 2 + 2 + memberWithoutKind.length, 0x12, 0x00, 0x22, memberWithoutKind.length, ...memberWithoutKind]),
    ]);
    expect(checkBatch(batch)).to.deep.include({ field: 'requests[1].payload' });
    // output (11) is a Value itself.
    expect(checkRecordJob(recordWith(11, []))).to.deep.include({ field: 'output' });
  });

  it('takes every kind, null, zero, false and the empty string included', () => {
    const request = RecordJobRequest.fromPartial({ jobId: 'j', type: 't', payload: { n: null, z: 0, f: false, s: '', o: {}, l: [null, 0, [], {}] }, metadata: { m: 1 } });
    expect(checkRecordJob(RecordJobRequest.encode(request).finish())).to.equal(undefined);
  });
});
