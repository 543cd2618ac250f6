import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { scrapeMetrics, total } from '../support/prometheus.js';
import { rawExchange } from '../support/raw-http.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/waits.js';

interface ErrorBody {
  error: { code: number; message: string; status: string; details: Array<{ '@type': string; [field: string]: unknown }> };
}

interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as it came over the wire (compressed, if it was). */
  bytes: Buffer;
}

/** Headers that differ between two answers to the same request whatever they hold. */
const PER_ANSWER_HEADERS = ['date', 'keep-alive', 'connection'];
/** Jobs in the lineage whose answer the compression test reads: the 500-node FULL lineage. */
const LINEAGE_JOBS = 500;

/**
 * One face on the whole HTTP listener: the REST gateway's error body for
 * every error (unknown paths, other methods, CONNECT), HEAD wherever GET
 * goes, and compression as Accept-Encoding prefers.
 */
describe('the HTTP listener, one face', function () {
  this.timeout(120_000);
  let directory: string;
  let server: ServerProcess;

  /** One request with node:http, which (unlike fetch) neither asks for nor undoes a compression by itself. */
  const exchange = (method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Exchange> =>
    new Promise((resolve, reject) => {
      const [host, port] = server.httpAddress.split(':');
      const outgoing = httpRequest({ host, port: Number(port), method, path, headers: { 'X-Request-Id': 'http-face', ...headers } }, (response) => {
        const chunks: Buffer[] = [];
        // An event stream never ends by itself: its headers are what is compared.
        if (response.headers['content-type'] === 'text/event-stream') {
          response.destroy();
          return resolve({ status: response.statusCode!, headers: response.headers, bytes: Buffer.alloc(0) });
        }
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, bytes: Buffer.concat(chunks) }));
        response.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  const errorOf = (answer: Exchange) => (JSON.parse(answer.bytes.toString('utf8')) as ErrorBody).error;
  const detail = (error: ErrorBody['error'], type: string) => error.details.find((d) => d['@type'] === `type.googleapis.com/google.rpc.${type}`);
  const decoded = (answer: Exchange) => {
    const encoding = answer.headers['content-encoding'];
    const bytes = encoding === 'gzip' ? gunzipSync(answer.bytes) : encoding === 'br' ? brotliDecompressSync(answer.bytes) : answer.bytes;
    return bytes.toString('utf8');
  };

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-http-face-'));
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_IN_PROCESS_WORKERS: 'false' });
    // A star: one root and the jobs made from it, so that the root's descendants are a 500-node lineage.
    const requests = [{ jobId: 'star', type: 'ingest', status: 'JOB_STATUS_SUCCEEDED', outputHash: 'sha256:00', payload: { source: 's3://bucket/star.csv' } }];
    for (let i = 1; i < LINEAGE_JOBS; i++) {
      requests.push({ jobId: `ray-${i}`, type: 'featurize', parentJobIds: ['star'], status: 'JOB_STATUS_SUCCEEDED', outputHash: `sha256:${i}`, payload: { column: `c${i}`, window: i } } as never);
    }
    const recorded = await exchange('POST', '/jobs:batchRecord', { 'Content-Type': 'application/json' }, JSON.stringify({ requests }));
    expect(recorded.status, recorded.bytes.toString()).to.equal(200);
  });
  after(async () => {
    await server?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('answers every error of the listener with the REST error body: unknown paths, other methods, CONNECT', async () => {
    for (const path of ['/nothing-here', '/jobs/x/nothing']) {
      const missing = await exchange('GET', path);
      expect(missing.status, path).to.equal(404);
      expect(missing.headers['x-request-id']).to.equal('http-face');
      expect(errorOf(missing)).to.deep.equal({
        code: 404,
        message: `no route for ${path}`,
        status: 'NOT_FOUND',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ROUTE_NOT_FOUND', domain: 'provenance.v1' }],
      });
    }
    const answers = [
      { answer: await exchange('POST', '/metrics'), allowed: 'GET, HEAD' },
      { answer: await exchange('DELETE', '/jobs'), allowed: 'GET, HEAD, POST' },
      { answer: await exchange('PUT', '/jobs/star/provenance'), allowed: 'GET, HEAD' },
    ];
    for (const { answer, allowed } of answers) {
      expect(answer.status).to.equal(405);
      expect(answer.headers.allow).to.equal(allowed);
      const error = errorOf(answer);
      // 405 is not UNIMPLEMENTED (501: what the server lacks) but the caller's mistake, naming the method.
      expect(error).to.include({ code: 405, status: 'INVALID_ARGUMENT' });
      expect(detail(error, 'ErrorInfo')).to.deep.include({ reason: 'METHOD_NOT_ALLOWED', metadata: { allowed } });
      expect((detail(error, 'BadRequest') as unknown as { fieldViolations: Array<{ field: string }> }).fieldViolations.map((v) => v.field)).to.deep.equal(['method']);
    }
    const connect = await rawExchange(server.httpAddress, 'CONNECT example.com:443 HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(connect.status).to.equal(405);
    expect((JSON.parse(connect.body) as ErrorBody).error).to.include({ code: 405, status: 'INVALID_ARGUMENT' });
  });

  it('answers an unknown method, bytes that are no request, and an Expect it cannot meet with the REST error body; a HEAD it cannot parse without', async () => {
    for (const request of ['FOO /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n', 'GARBAGE\r\n\r\n']) {
      const answer = await rawExchange(server.httpAddress, request);
      expect(answer.status, request).to.equal(400);
      const error = (JSON.parse(answer.body) as ErrorBody).error;
      expect(error, request).to.include({ code: 400, status: 'INVALID_ARGUMENT' });
      expect((detail(error, 'BadRequest') as unknown as { fieldViolations: Array<{ field: string }> }).fieldViolations.map((v) => v.field)).to.deep.equal(['request']);
    }
    const expectation = await rawExchange(server.httpAddress, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: http-face-expect\r\nExpect: foo\r\n\r\n');
    expect(expectation.status).to.equal(417);
    expect(expectation.headers['x-request-id']).to.equal('http-face-expect');
    const error = (JSON.parse(expectation.body) as ErrorBody).error;
    expect(error).to.include({ code: 417, status: 'INVALID_ARGUMENT' });
    expect(detail(error, 'ErrorInfo')).to.deep.include({ reason: 'EXPECTATION_FAILED' });
    expect((detail(error, 'BadRequest') as unknown as { fieldViolations: Array<{ field: string }> }).fieldViolations.map((v) => v.field)).to.deep.equal(['expect']);
    // A HEAD's answer has no content.
    expect(await rawExchange(server.httpAddress, 'HEAD /healthz HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n')).to.deep.include({ status: 400, body: '' });
  });

  it('answers HEAD wherever GET goes, with the GET\'s status and headers and no body', async () => {
    const paths = ['/healthz', '/readyz', '/openapi.json', '/jobs/star/provenance', '/jobs/star/lineage?direction=descendants&view=full', '/jobs/nowhere/provenance', '/ui/jobs/star', '/nothing-here'];
    for (const encoding of ['identity', 'gzip']) {
      for (const path of paths) {
        const [got, head] = [await exchange('GET', path, { 'Accept-Encoding': encoding }), await exchange('HEAD', path, { 'Accept-Encoding': encoding })];
        const comparable = (headers: IncomingHttpHeaders) => Object.fromEntries(Object.entries(headers).filter(([name]) => !PER_ANSWER_HEADERS.includes(name)));
        expect(head.status, path).to.equal(got.status);
        expect(comparable(head.headers), `${path} ${encoding}`).to.deep.equal(comparable(got.headers));
        expect(head.bytes.length, path).to.equal(0);
        expect(Number(got.headers['content-length']), path).to.equal(got.bytes.length);
      }
    }
    const metrics = await exchange('HEAD', '/metrics');
    expect(metrics.status).to.equal(200);
    expect(metrics.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    // HEAD of the event stream: its headers, and the subscription behind them released.
    const events = await exchange('HEAD', '/events?job_ids=star');
    expect(events.status).to.equal(200);
    expect(events.headers['content-type']).to.equal('text/event-stream');
    await until(async () => total(await scrapeMetrics(server.httpAddress), 'provenance_event_subscribers') === 0, 'the HEAD request\'s subscription to be released');
  });

  it('compresses an answer as Accept-Encoding prefers (q-values honoured), never an event stream', async () => {
    const lineage = '/jobs/star/lineage?direction=descendants&view=full&max_nodes=1000';
    const plain = await exchange('GET', lineage);
    expect(plain.status).to.equal(200);
    expect(plain.headers['content-encoding']).to.equal(undefined);
    expect(plain.headers.vary).to.equal('Accept-Encoding');
    expect((JSON.parse(plain.bytes.toString('utf8')) as { nodes: unknown[] }).nodes).to.have.length(LINEAGE_JOBS - 1);
    const negotiated: Array<[string, string | undefined]> = [
      ['gzip', 'gzip'],
      ['br', 'br'],
      ['gzip, deflate, br, zstd', 'gzip'],
      ['gzip;q=0.5, br', 'br'],
      ['br;q=0, *', 'gzip'],
      ['deflate', undefined],
      ['gzip;q=0, br;q=0', undefined],
      ['identity', undefined],
    ];
    for (const [accepted, expected] of negotiated) {
      const answer = await exchange('GET', lineage, { 'Accept-Encoding': accepted });
      expect(answer.headers['content-encoding'], accepted).to.equal(expected);
      expect(answer.headers.vary).to.equal('Accept-Encoding');
      expect(decoded(answer), accepted).to.equal(plain.bytes.toString('utf8'));
      if (expected) expect(answer.bytes.length, accepted).to.be.below(plain.bytes.length / 5);
    }
    // Small answers go as they are.
    expect((await exchange('GET', '/healthz', { 'Accept-Encoding': 'gzip' })).headers['content-encoding']).to.equal(undefined);
    // Each event must reach the client as it is written: the stream goes uncompressed.
    const events = await exchange('GET', '/events?job_ids=star&start_position=oldest', { 'Accept-Encoding': 'gzip' });
    expect(events.headers['content-type']).to.equal('text/event-stream');
    expect(events.headers['content-encoding']).to.equal(undefined);
  });
});
