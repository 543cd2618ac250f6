import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { GetJobRequest, JobStatus } from '@provenance/client';
import { restGateway } from '../../src/http/routes/rest.js';
import type { RestGateway } from '../../src/http/rest/rest-gateway.js';
import { startHttpServer, type RunningHttpServer } from '../../src/http/server.js';
import { until } from '../support/waits.js';
import { connect, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { capturingLogger } from '../support/logs.js';
import { startTcpProxy, type TcpProxy } from '../support/net.js';
import { openSocket, rawExchange, readResponse, received, sendUntilAnswered } from '../support/raw-http.js';
import { parseExposition, total } from '../support/prometheus.js';
import { issueCertificate, makeApiKey, makeCertificateAuthority, makeHmacSecret, metadataWith, sha256Hex, signToken, type CertificateAuthority } from '../support/credentials.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const PYTHON_GEN = fileURLToPath(new URL('../../../clients/python/gen', import.meta.url));

interface ErrorBody {
  error: { code: number; status: string; message: string; details: Array<Record<string, unknown>> };
}

/** The detail of that type in a Google JSON error body. */
function detail<T>(body: ErrorBody, type: string): T {
  return body.error.details.find((d) => d['@type'] === `type.googleapis.com/google.rpc.${type}`) as T;
}

/** A server process of its own: SQLite in a fresh folder, no workers, these settings, and these API keys (by id, each a submitter of tenant acme). */
async function ownServer(env: Record<string, string> = {}, apiKeys: Record<string, string> = {}): Promise<ServerProcess & { remove(): Promise<void> }> {
  const directory = mkdtempSync(join(tmpdir(), 'provenance-http-edge-'));
  const keys = Object.entries(apiKeys).map(([id, key]) => ({ id, sha256: sha256Hex(key), subject: id, tenant: 'acme', roles: ['submitter'] }));
  const keysFile = join(directory, 'api-keys.json');
  if (keys.length > 0) writeFileSync(keysFile, JSON.stringify(keys));
  const server = await startServer({
    PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'),
    PROVENANCE_IN_PROCESS_WORKERS: 'false',
    ...(keys.length > 0 ? { PROVENANCE_API_KEYS_FILE: keysFile } : {}),
    ...env,
  });
  return {
    ...server,
    async remove() {
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** The HTTP listener and the REST gateway against hostile or broken requests, through the wire of a real server process. */
describe('the HTTP edge', function () {
  this.timeout(120_000);
  let server: Awaited<ReturnType<typeof ownServer>>;
  let api: Client;

  before(async () => {
    server = await ownServer();
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.remove();
  });

  const scrape = async () => parseExposition(await (await fetch(`http://${server.httpAddress}/metrics`)).text());

  /** The process still serves both listeners. */
  async function stillServes(): Promise<void> {
    expect((await fetch(`http://${server.httpAddress}/healthz`)).status).to.equal(200);
    expect((await failure(api.getJob({ jobId: 'still-here' }))).code).to.equal(status.NOT_FOUND);
  }

  it('answers 400 to request targets that are not URLs, and goes on serving', async () => {
    for (const target of ['http://[', 'http://%zz/', 'http://a:b']) {
      const response = await rawExchange(server.httpAddress, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      expect(response.status, target).to.equal(400);
      expect(JSON.parse(response.body), target).to.have.property('error');
    }
    await stillServes();
  });

  it('reads a path that starts with // as a path, which no route declares, not as a host and a shorter path', async () => {
    for (const target of ['//x/metrics', '//evil.example/jobs/a1/provenance', '//ui/viewer.js']) {
      const response = await rawExchange(server.httpAddress, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      expect(response.status, target).to.equal(404);
      expect(response.body, target).to.include('ROUTE_NOT_FOUND');
    }
  });

  it('bounds an error of a thousand violations over gRPC and REST: the first ones, the count of the rest, and every client gets it', async () => {
    // WatchEvents checks each of its job ids on its own: a thousand bad ones are a thousand violations.
    const jobIds = Array.from({ length: 1000 }, (_, i) => `-${i}`);
    const grpcError = await failure(api.watchEvents({ jobIds }, { resume: false }).subscribed());
    expect(grpcError.code).to.equal(status.INVALID_ARGUMENT);
    const details = statusDetails(grpcError);
    const listed = details.badRequest!.fieldViolations;
    expect(listed.length).to.be.within(1, 20);
    expect(listed[0]!.field).to.equal('job_ids[0]');
    expect(listed.length + Number(details.errorInfo!.metadata.omittedFieldViolations)).to.equal(1000);
    expect(grpcError.details).to.match(/\(and \d+ more\)$/);

    // gRPC C-core refuses received metadata over 8 KiB by default: the Python client must get the status too.
    const python = await promisify(execFile)('/usr/bin/python3', ['-c', PYTHON_WATCH, server.address], { env: { ...process.env, PYTHONPATH: PYTHON_GEN, PYTHONDONTWRITEBYTECODE: '1' } });
    expect(python.stdout.trim()).to.equal('StatusCode.INVALID_ARGUMENT');

    const events = await fetch(`http://${server.httpAddress}/events?${jobIds.map((id) => `job_ids=${encodeURIComponent(id)}`).join('&')}`);
    expect(events.status).to.equal(400);
    const body = (await events.json()) as ErrorBody;
    expect(detail<{ fieldViolations: unknown[] }>(body, 'BadRequest').fieldViolations).to.have.length(listed.length);
    expect(detail<{ metadata: Record<string, string> }>(body, 'ErrorInfo').metadata).to.deep.equal(details.errorInfo!.metadata);

    // The gateway's channel is not stuck: REST and server-sent events still answer.
    expect((await fetch(`http://${server.httpAddress}/jobs/after-the-flood/provenance`)).status).to.equal(404);
    const controller = new AbortController();
    const stream = await fetch(`http://${server.httpAddress}/events`, { signal: controller.signal });
    expect(stream.status).to.equal(200);
    expect(stream.headers.get('content-type')).to.equal('text/event-stream');
    controller.abort();
    await stillServes();
  });

  /** A REST call's answer: its status and its Google error body's field violations, by field. */
  async function violations(method: string, path: string, body?: string): Promise<{ status: number; fields: Record<string, string> }> {
    const response = await fetch(`http://${server.httpAddress}${path}`, { method, ...(body === undefined ? {} : { body }) });
    const answer = (await response.json()) as ErrorBody;
    const badRequest = detail<{ fieldViolations: Array<{ field: string; description: string }> } | undefined>(answer, 'BadRequest');
    return { status: response.status, fields: Object.fromEntries((badRequest?.fieldViolations ?? []).map((v) => [v.field, v.description])) };
  }

  it('answers 400 naming the field, not 500, for what does not transcode: escapes, integers out of range, deep JSON, wrong JSON types', async () => {
    const escape = await violations('GET', '/jobs/%zz/provenance');
    expect(escape.status).to.equal(400);
    expect(escape.fields).to.have.keys('job_id');
    const outOfRange = await violations('GET', '/jobs/a/lineage?max_depth=99999999999');
    expect(outOfRange).to.deep.equal({ status: 400, fields: { max_depth: 'must be an int32, from -2147483648 to 2147483647' } });
    expect((await violations('GET', '/jobs/a/dependents?page_size=-99999999999&transitive=maybe')).fields).to.have.keys('page_size', 'transitive');

    const deep = `{"type": "echo", "payload": ${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    expect(await violations('POST', '/jobs', deep)).to.deep.equal({ status: 400, fields: { body: 'nests objects and arrays deeper than 64 levels' } });

    const record = (fields: Record<string, unknown>) => violations('POST', '/jobs:record', JSON.stringify({ type: 't', status: 'JOB_STATUS_SUCCEEDED', outputHash: 'h', ...fields }));
    const wrong = await record({ attempt: 1e20, startTime: '2026-02-30T00:00:00Z', completeTime: 'yesterday', payload: [1, 2], labels: { team: 7 }, parentJobIds: 'a', status: 'DONE', provider: 'p' });
    expect(wrong.status).to.equal(400);
    expect(wrong.fields).to.have.keys('attempt', 'start_time', 'complete_time', 'payload', 'labels["team"]', 'parent_job_ids', 'status', 'provider');
    expect((await violations('POST', '/jobs:batchRecord', JSON.stringify({ requests: [{ type: 't' }, { type: 't', attempt: 'x', colour: 1 }] }))).fields).to.have.keys(
      'requests[1].attempt',
      'requests[1].colour',
    );
    await stillServes();
  });

  it('keeps a "__proto__" payload key as data through REST and gRPC alike', async () => {
    const recorded = await fetch(`http://${server.httpAddress}/jobs:record`, {
      method: 'POST',
      body: '{"jobId": "proto-key", "type": "t", "status": "JOB_STATUS_SUCCEEDED", "outputHash": "h", "payload": {"__proto__": {"x": 1}, "b": 2}}',
    });
    expect(recorded.status).to.equal(200);
    const overRest = (await (await fetch(`http://${server.httpAddress}/jobs/proto-key/provenance`)).json()) as { payload: object };
    expect(overRest.payload).to.deep.equal(JSON.parse('{"__proto__":{"x":1},"b":2}'));
    // Python's protobuf, a decoder of its own, reads what the gRPC twin answers; it records a job with such a key too.
    const python = await promisify(execFile)('/usr/bin/python3', ['-c', PYTHON_PROTO_KEY, server.address], { env: { ...process.env, PYTHONPATH: PYTHON_GEN, PYTHONDONTWRITEBYTECODE: '1' } });
    // JSON.parse on both sides: an object literal would take "__proto__" as its prototype.
    expect(JSON.parse(python.stdout)).to.deep.equal(JSON.parse('{"restRecorded": {"__proto__": {"x": 1}, "b": 2}, "grpcRecorded": {"__proto__": {"y": 2}, "c": 3}}'));
    const overRestAgain = (await (await fetch(`http://${server.httpAddress}/jobs/proto-key-python/provenance`)).json()) as { payload: object };
    expect(overRestAgain.payload).to.deep.equal(JSON.parse('{"__proto__":{"y":2},"c":3}'));
  });

  it('refuses a "__proto__" label key over REST as the service refuses any bad key (it was dropped on the way through gRPC)', async () => {
    const refused = await violations('POST', '/jobs:record', '{"jobId": "proto-label", "type": "t", "status": "JOB_STATUS_SUCCEEDED", "outputHash": "h", "labels": {"__proto__": "x"}}');
    expect(refused.status).to.equal(400);
    expect(refused.fields).to.have.keys('labels[__proto__]');
    expect((await fetch(`http://${server.httpAddress}/jobs/proto-label/provenance`)).status).to.equal(404);
  });

  it('releases the subscription of every GET /events, whenever its client leaves: thousands of cycles leave the subscriber gauge at 0', async () => {
    // Events to replay, so that a stream has something to send at once.
    for (let i = 0; i < 5; i++) await api.recordJob({ jobId: `sse-cycle-${i}`, type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' });
    const request = 'GET /events?start_position=oldest HTTP/1.1\r\nHost: localhost\r\n\r\n';
    /** Leaves at one of the moments a client can: right after writing, a little later, once the headers came, once events came. */
    const cycle = async (moment: number) => {
      const socket = await openSocket(server.httpAddress);
      socket.on('error', () => undefined);
      socket.write(request);
      if (moment === 1) await new Promise((resolve) => setImmediate(resolve));
      if (moment === 2) await received(socket, 'HTTP/1.1 200');
      if (moment === 3) await received(socket, 'data: ');
      socket.destroy();
    };
    for (let round = 0; round < 100; round++) await Promise.all(Array.from({ length: 20 }, (_, i) => cycle((round + i) % 4)));
    await until(async () => total(await scrape(), 'provenance_event_subscribers') === 0, 'every subscription to be released', 30_000);
    await stillServes();
  });
});

/** A GET with node:http or node:https: from a chosen local address (any of 127.0.0.0/8 reaches a loopback listener, as a peer of its own), with headers (an array sends one several times), trusting a CA. */
function get(url: string, options: { localAddress?: string; headers?: OutgoingHttpHeaders; ca?: string } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, options, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

/** Reads proto-key's payload over gRPC, records proto-key-python with a "__proto__" payload key and reads it back; prints both payloads as JSON. */
const PYTHON_PROTO_KEY = `
import sys, json, grpc
from google.protobuf import json_format
from provenance.v1 import provenance_service_pb2 as pb, provenance_service_pb2_grpc as services, job_pb2
stub = services.ProvenanceServiceStub(grpc.insecure_channel(sys.argv[1]))
request = pb.RecordJobRequest(job_id='proto-key-python', type='t', status=job_pb2.JOB_STATUS_SUCCEEDED, output_hash='h')
request.payload.update({'__proto__': {'y': 2}, 'c': 3})
stub.RecordJob(request, timeout=20)
read = lambda job_id: json_format.MessageToDict(stub.GetJob(pb.GetJobRequest(job_id=job_id), timeout=20).payload)
print(json.dumps({'restRecorded': read('proto-key'), 'grpcRecorded': read('proto-key-python')}))
`;

/** SubmitJob with a thousand bad parent ids through Python's gRPC (C-core); prints the status code it got. */
const PYTHON_WATCH = `
import sys, grpc
from provenance.v1 import provenance_service_pb2 as pb, provenance_service_pb2_grpc as services
stub = services.ProvenanceServiceStub(grpc.insecure_channel(sys.argv[1]))
try:
    for _ in stub.WatchEvents(pb.WatchEventsRequest(job_ids=["-%d" % i for i in range(1000)]), timeout=20):
        pass
    print('OK')
except grpc.RpcError as error:
    print(error.code())
`;

describe('the REST gateway with authentication configured', function () {
  this.timeout(120_000);
  let server: Awaited<ReturnType<typeof ownServer>>;
  const key = makeApiKey();
  const MAX_BODY = 1024 * 1024;

  before(async () => (server = await ownServer({ PROVENANCE_REST_MAX_BODY_BYTES: String(MAX_BODY) }, { ci: key })));
  after(async () => server?.remove());

  const post = (path: string, headers: string[], length?: number) =>
    `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${length === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;

  it('answers 401 from the headers alone, before the client has sent its 60 MB body', async () => {
    const total = 60 * 1024 * 1024;
    const { response, sentBytes } = await sendUntilAnswered(server.httpAddress, post('/jobs:record', [], total), total);
    expect(response.status).to.equal(401);
    expect(response.headers['www-authenticate']).to.equal('Bearer');
    expect((JSON.parse(response.body) as ErrorBody).error.status).to.equal('UNAUTHENTICATED');
    expect(sentBytes, 'bytes of the body sent before the answer').to.be.below(total);
  });

  it('answers 401 before 400, and without a "100 Continue" to a client that waits for one', async () => {
    const badJson = await fetch(`http://${server.httpAddress}/jobs:record`, { method: 'POST', body: '{"not json', headers: { 'x-api-key': 'not-a-key' } });
    expect(badJson.status).to.equal(401);
    const waiting = await rawExchange(server.httpAddress, post('/jobs', ['Expect: 100-continue'], 10_000));
    expect(waiting.status).to.equal(401);
  });

  it('refuses an authenticated body over PROVENANCE_REST_MAX_BODY_BYTES with 413, by its Content-Length or as it streams in', async () => {
    const declared = await sendUntilAnswered(server.httpAddress, post('/jobs:record', [`x-api-key: ${key}`], 60 * 1024 * 1024), 60 * 1024 * 1024);
    expect(declared.response.status).to.equal(413);
    expect(declared.sentBytes).to.be.below(60 * 1024 * 1024);
    // The rest of such a body is not read: the server closes the connection once the client stops sending.
    const socket = await openSocket(server.httpAddress);
    const closedByServer = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(post('/jobs:record', [`x-api-key: ${key}`], 60 * 1024 * 1024));
    expect((await readResponse(socket)).status).to.equal(413);
    await closedByServer;
    const body = (JSON.parse(declared.response.body) as ErrorBody).error;
    expect(body).to.include({ code: 413, status: 'RESOURCE_EXHAUSTED' });
    expect(body.message).to.contain('PROVENANCE_REST_MAX_BODY_BYTES');

    // Chunks of a body with no length: read up to the limit, then refused.
    const chunk = Buffer.from(`10000\r\n${'x'.repeat(0x10000)}\r\n`);
    // 64 MB: more than socket buffers on both sides hold, so that a server that stops reading stops the sender.
    const streamed = await sendUntilAnswered(server.httpAddress, post('/jobs:record', [`x-api-key: ${key}`]), 1000 * chunk.length, chunk);
    expect(streamed.response.status).to.equal(413);
    expect(streamed.sentBytes).to.be.below(1000 * chunk.length);

    const within = await fetch(`http://${server.httpAddress}/jobs:record`, {
      method: 'POST',
      headers: { 'x-api-key': key },
      body: JSON.stringify({ jobId: 'within-limit', type: 'big', payload: { text: 'x'.repeat(MAX_BODY / 2) }, status: 'JOB_STATUS_SUCCEEDED', outputHash: 'h' }),
    });
    expect(within.status).to.equal(200);
  });
});

/** A request whose head or body does not arrive in time is answered then, with the error body, and its connection closed. */
describe('REST requests too slow to arrive (PROVENANCE_REST_TIMEOUT_MS)', function () {
  this.timeout(120_000);
  let server: Awaited<ReturnType<typeof ownServer>>;
  let api: Client;

  before(async () => {
    server = await ownServer({ PROVENANCE_REST_TIMEOUT_MS: '1500' });
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.remove();
  });

  /** The answer a raw connection gets after sending these bytes, and a promise of the server closing it. */
  async function answerTo(bytes: string): Promise<{ socket: Awaited<ReturnType<typeof openSocket>>; closed: Promise<void>; body: ErrorBody; status: number }> {
    const socket = await openSocket(server.httpAddress);
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(bytes);
    const response = await readResponse(socket);
    expect(response.headers['content-type']).to.equal('application/json');
    return { socket, closed, body: JSON.parse(response.body) as ErrorBody, status: response.status };
  }

  function expectRequestTimeout(answer: { status: number; body: ErrorBody }, what: string): void {
    expect(answer.status).to.equal(408);
    expect(answer.body.error).to.include({ code: 408, status: 'DEADLINE_EXCEEDED', message: `the request ${what} did not arrive within 1500 ms (PROVENANCE_REST_TIMEOUT_MS)` });
    expect(detail<{ reason: string }>(answer.body, 'ErrorInfo').reason).to.equal('REQUEST_TIMEOUT');
  }

  const accessLine = (requestId: string) =>
    server
      .output()
      .split('\n')
      .filter((line) => line.includes(`"requestId":"${requestId}"`) && line.includes('"msg":"request ended"'))
      .map((line) => JSON.parse(line) as { status: number; path: string })[0];

  it('answers 408 with the error body to a body that stalls, logs it so, closes the connection, and records nothing of it', async () => {
    const record = '{"jobId": "late-record", "type": "t", "status": "JOB_STATUS_SUCCEEDED", "outputHash": "h"}';
    const head = `POST /jobs:record HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: stalled-body-1\r\nContent-Length: ${record.length}\r\n\r\n`;
    const answer = await answerTo(`${head}${record.slice(0, 1)}`);
    expectRequestTimeout(answer, 'body');
    // The rest of the body, too late: the answer stands, and nothing is recorded.
    answer.socket.end(record.slice(1));
    await answer.closed;
    await until(() => accessLine('stalled-body-1') !== undefined, 'the request to be logged');
    expect(accessLine('stalled-body-1')).to.deep.include({ status: 408, path: '/jobs:record' });
    expect((await failure(api.getJob({ jobId: 'late-record' }))).code).to.equal(status.NOT_FOUND);
  });

  it('answers 408 to a chunked body that keeps trickling in', async () => {
    const socket = await openSocket(server.httpAddress);
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('POST /jobs:record HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n');
    // A byte at a time, for as long as the connection lasts: each keeps the connection busy, none completes the body.
    const trickle = setInterval(() => socket.writable && socket.write('1\r\n \r\n'), 200);
    try {
      const response = await readResponse(socket);
      expectRequestTimeout({ status: response.status, body: JSON.parse(response.body) as ErrorBody }, 'body');
      await closed;
    } finally {
      clearInterval(trickle);
    }
  });

  it('answers 408 with the error body to a head that stalls', async () => {
    const answer = await answerTo('POST /jobs:record HTTP/1.1\r\nHost: localhost\r\n');
    expectRequestTimeout(answer, 'line and headers');
    await answer.closed;
    expect((await fetch(`http://${server.httpAddress}/healthz`)).status).to.equal(200);
  });
});

describe('failed authentications, limited by peer address', function () {
  this.timeout(120_000);
  let server: Awaited<ReturnType<typeof ownServer>>;
  const known = makeApiKey();
  const fresh = makeApiKey();

  // Three failures, then one a minute: nothing refills while the test runs.
  before(async () => (server = await ownServer({ PROVENANCE_AUTH_FAILURE_LIMIT: '1', PROVENANCE_AUTH_FAILURE_BURST: '3' }, { known, fresh })));
  after(async () => server?.remove());

  const grpcCode = async (key: string) => {
    const api = connect(server.address, { headers: { 'x-api-key': key } });
    try {
      const error = await failure(api.getJob({ jobId: 'nowhere' }));
      return error.code === status.RESOURCE_EXHAUSTED ? `RESOURCE_EXHAUSTED ${Number(statusDetails(error).retryInfo?.retryDelay?.seconds) > 0}` : status[error.code];
    } finally {
      api.close();
    }
  };

  it('refuses a peer that keeps failing as rate-limited, unchecked, while credentials it used before keep working, over gRPC and REST', async () => {
    expect(await grpcCode(known)).to.equal('NOT_FOUND');
    const guesses = [];
    for (let i = 0; i < 6; i++) guesses.push(await grpcCode(makeApiKey()));
    expect(guesses).to.deep.equal(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RESOURCE_EXHAUSTED true', 'RESOURCE_EXHAUSTED true', 'RESOURCE_EXHAUSTED true']);
    expect(await grpcCode(known)).to.equal('NOT_FOUND');
    // A valid key this peer never used is a guess like any other, and is not even checked.
    expect(await grpcCode(fresh)).to.equal('RESOURCE_EXHAUSTED true');

    // REST authenticates with the HTTP client's own address: the same peer, the same limit.
    const restFromHere = await get(`http://${server.httpAddress}/jobs/nowhere/provenance`, { localAddress: '127.0.0.1', headers: { 'x-api-key': fresh } });
    expect(restFromHere.status).to.equal(429);
    expect(Number(restFromHere.headers['retry-after'])).to.be.above(0);
    expect((await get(`http://${server.httpAddress}/jobs/nowhere/provenance`, { localAddress: '127.0.0.1', headers: { 'x-api-key': known } })).status).to.equal(404);
  });

  it("counts REST failures by the HTTP client's address, not the gateway's loopback calls", async () => {
    // Another loopback address is another peer: its good key works, though the gateway forwards the call from 127.0.0.1.
    const url = `http://${server.httpAddress}/jobs/nowhere/provenance`;
    expect((await get(url, { localAddress: '127.0.0.2', headers: { 'x-api-key': fresh } })).status).to.equal(404);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(url, { localAddress: '127.0.0.3', headers: { 'x-api-key': makeApiKey() } })).status);
    expect(statuses).to.deep.equal([401, 401, 401, 429, 429]);
    expect((await get(url, { localAddress: '127.0.0.2', headers: { 'x-api-key': fresh } })).status).to.equal(404);
  });
});

describe('the server log, given bad credentials of every kind', function () {
  this.timeout(120_000);
  let server: Awaited<ReturnType<typeof ownServer>>;
  const jwtSecret = makeHmacSecret();
  const apiKey = makeApiKey();
  const token = (audience: string) =>
    signToken({ sub: 'alice', tenant: 'acme', roles: ['reader'], iss: 'https://issuer.test', aud: audience, exp: Math.floor(Date.now() / 1000) + 600 }, 'HS256', jwtSecret);

  before(async () => {
    const jwt = { PROVENANCE_JWT_SECRET: jwtSecret, PROVENANCE_JWT_ISSUER: 'https://issuer.test', PROVENANCE_JWT_AUDIENCE: 'provenance' };
    server = await ownServer({ ...jwt, PROVENANCE_LOG_LEVEL: 'debug' }, { ci: apiKey });
  });
  after(async () => server?.remove());

  it('holds no credential, nor any 8 characters of one; duplicate credential headers are refused on REST as on gRPC', async () => {
    const valid = await token('provenance');
    const rawSecret = makeApiKey();
    const wrongAudience = await token('someone-else');
    const unknownKey = makeApiKey();
    // Not ASCII, so not something gRPC metadata can carry: grpc-js would throw, quoting it.
    const latinKey = `${makeApiKey()}\u00e9`;
    const refusals: Array<Record<string, string | string[]>> = [
      { authorization: rawSecret },
      { authorization: `Bearer ${wrongAudience}` },
      { 'x-api-key': unknownKey },
      { authorization: [`Bearer ${valid}`, `Bearer ${wrongAudience}`] },
      { 'x-api-key': [apiKey, apiKey] },
      { 'x-api-key': latinKey },
    ];
    for (const headers of refusals) {
      const api = connect(server.address);
      try {
        // Node's HTTP/2 refuses to send Authorization twice, and grpc-js anything but ASCII: the gRPC side of those is the authenticator's.
        if (Array.isArray(headers.authorization) || headers['x-api-key'] === latinKey) continue;
        const error = await new Promise<{ code: number }>((resolve) => api.raw.getJob(GetJobRequest.fromPartial({ jobId: 'nowhere' }), metadataWith(headers), (e) => resolve(e!)));
        expect(error.code, JSON.stringify(headers)).to.equal(status.UNAUTHENTICATED);
      } finally {
        api.close();
      }
    }
    for (const headers of refusals) {
      const rest = await get(`http://${server.httpAddress}/jobs/nowhere/provenance`, { headers });
      expect(rest.status, JSON.stringify(headers)).to.equal(401);
    }
    // The valid credentials, once each, are fine.
    expect((await get(`http://${server.httpAddress}/jobs/nowhere/provenance`, { headers: { authorization: `Bearer ${valid}` } })).status).to.equal(404);
    expect((await get(`http://${server.httpAddress}/jobs/nowhere/provenance`, { headers: { 'x-api-key': apiKey } })).status).to.equal(404);

    await until(() => (server.output().match(/"msg":"unauthenticated (call|HTTP request) refused"/g) ?? []).length >= 2 * refusals.length - 2, 'every refusal to be logged');
    const output = server.output();
    for (const secret of [jwtSecret, apiKey, valid, rawSecret, wrongAudience, unknownKey, latinKey]) {
      for (let i = 0; i + 8 <= secret.length; i++) expect(output.includes(secret.slice(i, i + 8)), `the log holds ${secret.slice(i, i + 8)}`).to.equal(false);
    }
  });
});

describe('the HTTP listener beside a gRPC listener with TLS', function () {
  this.timeout(120_000);
  let ca: CertificateAuthority;
  let server: Awaited<ReturnType<typeof ownServer>>;

  before(async () => {
    ca = await makeCertificateAuthority();
    const certificate = await issueCertificate(ca, { commonName: 'localhost', server: ['localhost', '127.0.0.1'] });
    server = await ownServer({ PROVENANCE_TLS_CERT_FILE: certificate.certificatePath, PROVENANCE_TLS_KEY_FILE: certificate.keyPath });
  });
  after(async () => {
    await server?.remove();
    await ca?.remove();
  });

  it('serves HTTPS with the same certificate, REST included, and nothing in plaintext', async () => {
    const health = await get(`https://${server.httpAddress}/healthz`, { ca: ca.certificatePem });
    expect(health.status).to.equal(200);
    expect(JSON.parse(health.body)).to.deep.equal({ status: 'ok' });
    expect((await get(`https://${server.httpAddress}/jobs/nowhere/provenance`, { ca: ca.certificatePem })).status).to.equal(404);
    expect(server.output()).to.match(/"httpScheme":"https"/);
    let plaintext: unknown;
    try {
      plaintext = await get(`http://${server.httpAddress}/healthz`);
    } catch (error) {
      plaintext = error;
    }
    expect(plaintext).to.be.instanceOf(Error);
  });
});

describe("the REST gateway's channel", function () {
  this.timeout(120_000);
  let server: Awaited<ReturnType<typeof ownServer>>;
  let proxy: TcpProxy;
  let gateway: RestGateway;
  let http: RunningHttpServer;
  const { logger, lines } = capturingLogger();

  before(async () => {
    server = await ownServer();
    // The gateway of this test process reaches the server's gRPC listener through a proxy that can freeze its connection.
    proxy = await startTcpProxy(server.address);
    gateway = restGateway(proxy.address, undefined, { maxMessageBytes: 4 * 1024 * 1024, maxRequestFields: 250_000, maxBodyBytes: 1024 * 1024, timeoutMs: 500, logger, gatewayToken: 'gateway-token-of-the-test' });
    http = await startHttpServer({ address: '127.0.0.1:0', routes: [], fallback: (request, context) => gateway.answer(request, context), logger, shutdownGraceMs: 1000, headersTimeoutMs: 30_000 });
  });
  after(async () => {
    await http?.shutdown();
    gateway?.close();
    await proxy?.close();
    await server?.remove();
  });

  it('gives every call a deadline, and replaces a channel that stopped carrying calls while the listener answers', async () => {
    const getJob = async () => (await fetch(`http://${http.address}/jobs/nowhere/provenance`)).status;
    expect(await getJob()).to.equal(404);
    proxy.freeze();
    expect(await getJob()).to.equal(504);
    // A few more timeouts, then a fresh connection finds the listener answering and takes over.
    await until(async () => (await getJob()) === 404, 'the gateway to answer through a fresh channel', 60_000);
    expect(lines.some((line) => line.msg === 'REST gateway channel replaced: its calls kept failing while a fresh connection answers')).to.equal(true);
  });
});
