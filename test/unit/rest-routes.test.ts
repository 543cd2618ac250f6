import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { durationString } from '../../src/http/rest/durations.js';
import { readFileSync } from 'node:fs';
import { ProvenanceError } from '../../src/domain/errors.js';
import { requestFieldCounters } from '../../src/grpc/request-fields.js';
import { httpStatusOf } from '../../src/http/rest/http-status.js';
import { loadRestRoutes, matchRoute, type RestRoute } from '../../src/http/rest/rest-routes.js';
import { encodedRequest, transcodeRequest } from '../../src/http/rest/transcode.js';
import { DESCRIPTOR_SET_PATH } from '../../src/platform/generated-documents.js';

const routes = loadRestRoutes(
  fileURLToPath(new URL('../../../src/gen/openapi/provenance.swagger.json', import.meta.url)),
  fileURLToPath(new URL('../../../src/gen/provenance.binpb', import.meta.url)),
);

function routed(method: string, path: string): { route: RestRoute; pathValues: Record<string, string> } {
  const match = matchRoute(routes, method, path);
  if (!match || 'allowed' in match) throw new Error(`${method} ${path} matched no route`);
  return match;
}

describe('REST routes and transcoding', () => {
  it('binds path templates to one path segment each, job ids with colons included', () => {
    expect(routed('POST', '/jobs/a:b:cancel')).to.deep.include({ pathValues: { job_id: 'a:b' } });
    expect(routed('POST', '/jobs/a:b:cancel').route.operationId).to.equal('CancelJob');
    expect(routed('GET', '/jobs/a.b-c/lineage').pathValues).to.deep.equal({ job_id: 'a.b-c' });
    const escaped = routed('GET', '/jobs/x%2Fy/provenance');
    expect(escaped.pathValues).to.deep.equal({ job_id: 'x%2Fy' });
    expect(transcodeRequest(escaped.route, escaped.pathValues, new URLSearchParams(), '', 250_000)).to.deep.equal({ jobId: 'x/y', asOf: undefined });
    expect(routed('POST', '/jobs:record').route.operationId).to.equal('RecordJob');
    expect(matchRoute(routes, 'GET', '/jobs/a/b/lineage')).to.equal(undefined);
    expect(matchRoute(routes, 'PUT', '/jobs')).to.deep.equal({ allowed: ['GET', 'POST'] });
  });

  it('takes enum query values by name, with or without their prefix, in any case', () => {
    const { route, pathValues } = routed('GET', '/jobs/j/lineage');
    const request = (query: string) => transcodeRequest(route, pathValues, new URLSearchParams(query), '', 250_000);
    expect(request('direction=ancestors&view=ids')).to.deep.include({ jobId: 'j', direction: 1, view: 1 });
    expect(request('direction=LINEAGE_DIRECTION_DESCENDANTS&max_depth=4')).to.deep.include({ direction: 2, maxDepth: 4 });
    const exported = routed('GET', '/jobs/j/export');
    expect(transcodeRequest(exported.route, exported.pathValues, new URLSearchParams('format=prov-json'), '', 250_000)).to.deep.include({ format: 2 });
  });

  it('writes google.protobuf.Duration as the proto3 JSON mapping does, wherever a Job holds one', () => {
    expect([durationString({ seconds: '150' }), durationString({ seconds: '1', nanos: 500_000_000 }), durationString({ nanos: 1 }), durationString({})]).to.deep.equal([
      '150s',
      '1.500s',
      '0.000000001s',
      '0s',
    ]);
    const job = { jobId: 'j', duration: { seconds: '150', nanos: 250_000 } };
    const getJob = routed('GET', '/jobs/j/provenance').route.response;
    expect(getJob.toJSON(getJob.fromJSON(job))).to.deep.include({ jobId: 'j', duration: '150.000250s' });
    const lineage = routed('GET', '/jobs/j/lineage').route.response;
    const answer = lineage.toJSON(lineage.fromJSON({ root: { jobId: 'j', job }, nodes: [{ jobId: 'k', job: { ...job, jobId: 'k' } }] })) as {
      root: { job: { duration: unknown } };
      nodes: Array<{ job: { duration: unknown } }>;
    };
    expect([answer.root.job.duration, answer.nodes[0]!.job.duration]).to.deep.equal(['150.000250s', '150.000250s']);
  });

  it('counts no more fields in a body than its encoding holds, and stops just past the limit', () => {
    const wireCounters = requestFieldCounters(readFileSync(DESCRIPTOR_SET_PATH));
    const bodies: Array<[string, string, Record<string, unknown>]> = [
      ['POST', '/jobs:record', { jobId: '', type: 't', parentJobIds: ['p', ''], labels: { k: 'v', e: '' }, provider: {}, status: 'JOB_STATUS_UNSPECIFIED', startTime: '2026-01-01T00:00:00Z' }],
      ['POST', '/jobs:record', { type: 't', payload: { a: null, b: [1, [], {}, { c: 'd' }], '': 0 }, output: [true, null], metadata: {} }],
      ['POST', '/jobs:batchRecord', { requests: [{}, { type: 'u', parentJobIds: ['p'] }, { payload: { x: { y: [1, 2] } } }] }],
      ['POST', '/jobs', { jobId: 'j', type: 'echo', payload: {}, labels: {} }],
    ];
    for (const [method, path, json] of bodies) {
      const { route, pathValues } = routed(method, path);
      const atLeast = route.fieldCountAtLeast(json, 1000);
      const onTheWire = wireCounters.get(route.grpcPath)!(encodedRequest(route, transcodeRequest(route, pathValues, new URLSearchParams(), JSON.stringify(json), 1000)), 1000);
      expect(atLeast, JSON.stringify(json)).to.be.within(1, onTheWire);
    }
    const batch = routed('POST', '/jobs:batchRecord').route;
    expect(batch.fieldCountAtLeast({ requests: new Array(1_000_000).fill({}) }, 500)).to.equal(501);
    expect(batch.fieldCountAtLeast({ requests: new Array(500).fill({}) }, 500)).to.equal(500);
    const record = routed('POST', '/jobs:record').route;
    expect(record.fieldCountAtLeast({ labels: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, 'v'])) }, 500)).to.equal(501);
    expect(record.fieldCountAtLeast({ payload: { list: new Array(600).fill(0) } }, 500)).to.be.above(500);
  });

  it('refuses a body of too many fields before checking it any further', () => {
    const { route, pathValues } = routed('POST', '/jobs:batchRecord');
    // The unknown field is refused too, by the walk that checks the body; the field count comes first, without that walk.
    const body = JSON.stringify({ requests: new Array(101).fill({}), unknownField: 1 });
    const refusal = (maxFields: number) => {
      try {
        transcodeRequest(route, pathValues, new URLSearchParams(), body, maxFields);
      } catch (error) {
        return (error as ProvenanceError).details.fieldViolations?.map((v) => [v.field, v.description]);
      }
      throw new Error('transcoded');
    };
    expect(refusal(100)).to.deep.equal([['request', 'holds more than 100 fields, nested ones included (PROVENANCE_MAX_REQUEST_FIELDS): send it in smaller parts']]);
    expect(refusal(101)).to.deep.equal([['unknownField', 'no such field']]);
  });

  it('maps gRPC codes to HTTP statuses as Google does', () => {
    expect([0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16].map(httpStatusOf)).to.deep.equal([
      200, 499, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401,
    ]);
  });
});
