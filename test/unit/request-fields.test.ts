import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { DESCRIPTOR_SET_PATH } from '../../src/platform/generated-documents.js';
import { BatchRecordJobsRequest, RecordJobRequest } from '@provenance/client/gen/provenance/v1/provenance_service';
import { requestFieldCounters } from '../../src/grpc/request-fields.js';

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
