import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { expect } from 'chai';
import { fuzzCredentials, identifier, fuzzInteger, fuzzString, odd, randomText, type FuzzContext } from './fuzz-values.js';
import { CALL_DEADLINE_MS, FuzzFindings, fuzzRun, runCases, type FuzzRun } from './fuzz-run.js';
import { loadServiceSchema, randomBytes, randomJsonMessage, SERVICE_NAME } from './protobuf-fuzz.js';
import {
  checkAlive,
  checkMemory,
  checkStoredByAcceptedWritesOnly,
  checkSubscriptionsReleased,
  isAlive,
  residentBytes,
  startFuzzTarget,
  watchHealth,
  type FuzzTarget,
} from './fuzz-target.js';
import { openSocket } from '../support/raw-http.js';
import { OPENAPI_DOCUMENT_PATH } from '../../src/platform/generated-documents.js';
import type { OpenApiDocument, OpenApiParameter } from '../../src/http/rest/rest-routes.js';

/** Requests sent by `npm test`; `npm run fuzz` sets FUZZ_ITERATIONS far higher. */
const DEFAULT_ITERATIONS = 250;
const CONCURRENCY = 4;
const REQUEST_BUDGET_BYTES = 1024 * 1024;
/** Past PROVENANCE_REST_MAX_BODY_BYTES' default of 4 MiB: the body is refused with 413 as it arrives. */
const OVERSIZED_BODY_BYTES = 5 * 1024 * 1024;


interface RestRoute {
  httpMethod: string;
  template: string;
  operationId: string;
  query: OpenApiParameter[];
  hasBody: boolean;
}

function loadRestRoutes(): RestRoute[] {
  const document = JSON.parse(readFileSync(OPENAPI_DOCUMENT_PATH, 'utf8')) as OpenApiDocument;
  return Object.entries(document.paths).flatMap(([template, operations]) =>
    Object.entries(operations).map(([httpMethod, operation]) => ({
      httpMethod: httpMethod.toUpperCase(),
      template,
      operationId: operation.operationId,
      query: (operation.parameters ?? []).filter((parameter) => parameter.in === 'query'),
      hasBody: (operation.parameters ?? []).some((parameter) => parameter.in === 'body'),
    })),
  );
}

/** The listener's own routes, beside the REST gateway's: health, readiness, metrics, the OpenAPI document, the viewer. */
const LISTENER_PATHS = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/ui/jobs/{job_id}', '/ui/viewer.js', '/ui/viewer.css', '/ui/lib/dagre.js'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
/** Methods fetch refuses to send, or that are not methods at all: the raw socket sends them. */
const RAW_ONLY_METHODS = ['TRACE', 'CONNECT', 'FOO', 'get', 'G ET'];
/** Path segments that are not ids, or not even valid escapes. */
const ODD_SEGMENTS = ['%zz', '%', '%e0%80', '%c0%af', '%2F', '%2e%2e', '%00', '..', '.', '', 'a%20b', '%F0%9F%98%80', 'x'.repeat(129), '~', 'a:b:cancel', 'restricted-00'];
const ODD_TARGETS = ['http://[', 'http://%zz/', 'http://a:b', 'http://x/jobs', '*', '//jobs', '/jobs?%', '/jobs#frag', '/%', '/jobs/%zz/lineage'];
const CONTENT_TYPES = ['application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', ''];
const MALFORMED_BODIES = ['', '{', '{"type":', '{"type": "echo",}', 'null', '[]', '"text"', '1', 'true', '{"type": "echo"} trailing', '\ufeff{"type": "echo"}', '{"a": 1, "a": 2}', '{"type": "\\ud800"}', '{"payload": {"__proto__": {"polluted": true}}, "type": "echo"}'];

interface HttpCase {
  description: string;
  method: string;
  /** The request target as sent: path and query, already encoded (or deliberately not). */
  target: string;
  headers: Array<[string, string]>;
  body?: Buffer;
  /** Sent over a raw socket, byte for byte as written, for what fetch would refuse or normalize; else with fetch. */
  raw?: Buffer;
}

describe('fuzz: every HTTP route', function () {
  const run: FuzzRun = fuzzRun('HTTP fuzz', DEFAULT_ITERATIONS);
  this.timeout(180_000 + run.iterations * 200);
  const schema = loadServiceSchema();
  const routes = loadRestRoutes();
  let target: FuzzTarget;

  before(async () => {
    target = await startFuzzTarget();
  });
  after(async () => {
    await target?.stop();
  });

  it('answers random requests on every route with a status, never a 5xx, stays healthy, bounded in memory, and stores nothing it refused', async () => {
    const findings = new FuzzFindings(run);
    const memoryBefore = residentBytes(target.server.child.pid!);
    const health = watchHealth(target);
    const answers = new Map<string, number>();
    const methodsByName = new Map(schema.service.methods.map((method) => [method.name, method]));
    expect(routes.map((route) => route.operationId)).to.have.members(schema.service.methods.map((method) => method.name), `every method of ${SERVICE_NAME} has a REST route`);

    const makeCase = (index: number): HttpCase => {
      const { random } = run;
      const oddness = random.chance(0.4) ? random.pick([0, 0.05, 0.1]) : 1;
      const context: FuzzContext = { random, jobIds: target.seededJobIds, budget: { bytes: REQUEST_BUDGET_BYTES }, oddness };
      const roll = random.next();
      const route = roll < 0.75 ? random.pick(routes) : undefined;
      const template = route?.template ?? (roll < 0.95 ? random.pick(LISTENER_PATHS) : `/${identifier(random)}/${identifier(random)}`);
      const method = random.chance(0.9) ? (route?.httpMethod ?? 'GET') : random.pick(METHODS);
      const valid = route !== undefined && random.chance(0.3) ? validRestRequest(route.operationId, index, target.seededJobIds) : undefined;
      const path = template.replace(/\{([a-z_]+)\}/g, (_, field: string) => valid?.path ?? pathSegment(context, field));
      const query = route ? queryString(context, route) : random.chance(0.1) ? `?${percentEncode(randomText(context, random.int(1, 30)))}` : '';
      const headers = headersFor(context, target, index);
      let body: Buffer | undefined;
      let bodyKind = '';
      if (method === 'POST' || method === 'PUT' || method === 'PATCH' || random.chance(0.05)) {
        const input = route && methodsByName.get(route.operationId)?.input;
        const bodyRoll = random.next();
        if (valid && bodyRoll < 0.8) {
          // Right but in a field or two: the valid body with random fields of the message put over it.
          body = jsonBytes({ ...valid.body, ...(input ? randomJsonMessage({ ...context, oddness: Math.max(oddness, 0.05) }, input, 1) : {}) });
          bodyKind = 'valid but a field or two';
        } else if (input && bodyRoll < 0.75) {
          body = jsonBytes(randomJsonMessage(context, input));
          bodyKind = `random ${input.name}`;
        } else if (bodyRoll < 0.97) {
          body = random.chance(0.7) ? Buffer.from(random.pick(MALFORMED_BODIES)) : random.chance(0.5) ? deepJson(random.pick([64, 65, 1_000, 10_000])) : randomBytes(context, random.int(1, 2_000));
          bodyKind = 'malformed';
        } else {
          body = Buffer.concat([Buffer.from('{"type": "echo", "payload": {"big": "'), Buffer.alloc(OVERSIZED_BODY_BYTES, 'x'), Buffer.from('"}}')]);
          bodyKind = 'oversized';
        }
        headers.push(['content-type', random.pick(CONTENT_TYPES)]);
      }
      const description = `#${index} ${method} ${shorten(path + query)}${body ? `, ${bodyKind} body of ${body.length} bytes (${shorten(body.toString('utf8'))})` : ''}, headers ${JSON.stringify(headers.map(([name, value]) => [name, value === target.adminKey ? '<valid key>' : shorten(value)]))}`;
      if (random.chance(0.2)) {
        const raw = rawRequest(context, random.chance(0.2) ? random.pick(RAW_ONLY_METHODS) : method, random.chance(0.15) ? random.pick(ODD_TARGETS) : path + query, headers, body);
        return { description: `${description}, over a raw socket as ${JSON.stringify(shorten(raw.toString('latin1'), 300))}`, method, target: path + query, headers, ...(body ? { body } : {}), raw };
      }
      return { description, method, target: path + query, headers, ...(body ? { body } : {}) };
    };

    try {
      await runCases(run, CONCURRENCY, makeCase, async (testCase) => {
        if (!isAlive(target)) return;
        const answer = testCase.raw ? await sendRaw(target, testCase) : await sendHttp(target, testCase);
        if ('failure' in answer) return findings.add(`${testCase.description}: ${answer.failure}`);
        answers.set(String(answer.status), (answers.get(String(answer.status)) ?? 0) + 1);
        judge(testCase, answer, findings, Boolean(testCase.raw));
        if (answer.status === 200 && testCase.method === 'POST') acceptWrite(target, testCase, answer.body, findings);
        return undefined;
      });

      console.log(`      answers: ${[...answers].sort().map(([code, count]) => `${code}×${count}`).join(' ')}`);
    } finally {
      for (const problem of await health.stop()) findings.add(`health: ${problem}`);
    }
    checkMemory(target, memoryBefore, findings);
    if (checkAlive(target, findings)) {
      await checkSubscriptionsReleased(target, findings);
      await checkStoredByAcceptedWritesOnly(target, findings);
    }
    findings.assertNone();
  });
});

interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * With node:http, each request on a connection of its own: a connection the
 * server closes after one answer (a body it did not read) must not fail the
 * next request, which a pool would send on it. A server-sent event stream is
 * left as soon as it has started.
 */
function sendHttp(target: FuzzTarget, testCase: HttpCase): Promise<HttpAnswer | { failure: string }> {
  const [host, port] = target.server.httpAddress.split(':') as [string, string];
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (answer: HttpAnswer | { failure: string }) => {
      clearTimeout(timer);
      resolve(answer);
    };
    // Raw headers, name and value after one another (a name given twice is sent twice), with the Host and Content-Length Node adds only to headers given as an object (a GET's body, too).
    const request = httpRequest({ host, port: Number(port), method: testCase.method, path: testCase.target, headers: [['host', target.server.httpAddress], ...testCase.headers, ...(testCase.body ? [['content-length', String(testCase.body.length)]] : [])].flat(), agent: false }, (response) => {
      const headers = Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, String(value)]));
      if (headers['content-type'] === 'text/event-stream') {
        response.destroy();
        return done({ status: response.statusCode!, headers, body: '' });
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => done({ status: response.statusCode!, headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', (error) => done({ failure: `the answer broke off: ${String(error)}` }));
      return undefined;
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      // Answered before the body was read (413, 401), the server closes once the client stops sending: the upload can fail after the answer, not before it.
      if (testCase.body && testCase.body.length >= OVERSIZED_BODY_BYTES && (error.code === 'EPIPE' || error.code === 'ECONNRESET')) return done({ status: 413, headers: {}, body: '' });
      return done({ failure: `the request failed: ${String(error)}` });
    });
    timer = setTimeout(() => {
      request.destroy();
      done({ failure: `no answer within ${CALL_DEADLINE_MS} ms` });
    }, CALL_DEADLINE_MS);
    request.end(testCase.body);
  });
}

/** Over a raw socket: the first response, whole; for an event stream, its head. */
async function sendRaw(target: FuzzTarget, testCase: HttpCase): Promise<HttpAnswer | { failure: string }> {
  const socket = await openSocket(target.server.httpAddress);
  // The server may close as soon as it has answered, while the request is still being written.
  socket.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    const streaming = /^\S+ \/events/.test(testCase.raw!.toString('latin1', 0, 64));
    const response = streaming ? readHead(socket) : readUntilClosed(socket);
    socket.write(testCase.raw!);
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CALL_DEADLINE_MS)));
    const answer = await Promise.race([response, deadline]);
    if (answer === 'timeout') return { failure: `no answer within ${CALL_DEADLINE_MS} ms` };
    return answer;
  } catch (error) {
    return { failure: `no answer: ${String(error)}` };
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

/**
 * Reads everything until the server closes (every raw request says
 * Connection: close) and resolves with the final response: interim ones
 * (100 Continue) are skipped, a chunked body is decoded.
 */
function readUntilClosed(socket: import('node:net').Socket): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('close', () => {
      let rest = Buffer.concat(chunks);
      for (;;) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0) return reject(new Error(`the connection closed before a response: ${JSON.stringify(rest.toString('latin1', 0, 200))}`));
        const [statusLine, ...lines] = rest.toString('latin1', 0, end).split('\r\n');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
        rest = rest.subarray(end + 4);
        if (status >= 100 && status < 200) continue;
        const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
        return resolve({ status, headers, body: (headers['transfer-encoding'] === 'chunked' ? unchunked(rest) : rest).toString('utf8') });
      }
    });
  });
}

function unchunked(data: Buffer): Buffer {
  const chunks: Buffer[] = [];
  for (let at = 0; ; ) {
    const lineEnd = data.indexOf('\r\n', at);
    const size = lineEnd < 0 ? 0 : parseInt(data.toString('latin1', at, lineEnd), 16);
    if (!(size > 0)) return Buffer.concat(chunks);
    chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** Resolves with the status line and headers of the response (after any interim 1xx), as soon as they have arrived. */
function readHead(socket: import('node:net').Socket): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      // An interim answer (100 Continue, to a request that said Expect: 100-continue) comes before the response.
      while (/^HTTP\/1\.[01] 1(?!01)\d\d /.test(received) && received.includes('\r\n\r\n')) received = received.slice(received.indexOf('\r\n\r\n') + 4);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = received.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]), headers, body: '' });
    });
    socket.once('close', () => reject(new Error(`the connection closed before a response: ${JSON.stringify(received.slice(0, 200))}`)));
  });
}

/**
 * Whether an answer is one a request may get. No 5xx: a masked failure
 * (500), a gateway that gave up (504), or an unavailable dependency the
 * answer does not name. An error the service gave (well-formed requests
 * only: Node answers what it cannot parse itself, bare) has a request id and
 * a JSON body saying what was wrong; INVALID_ARGUMENT names the fields.
 */
function judge(testCase: HttpCase, answer: HttpAnswer, findings: FuzzFindings, raw: boolean): void {
  const label = `${testCase.description}: ${answer.status}`;
  if (!(answer.status >= 200 && answer.status < 600)) return findings.add(`${label}: not an HTTP status`);
  const body = parsed(answer.body);
  if (answer.status >= 500) {
    const reason = errorDetail(body, 'ErrorInfo')?.['reason'];
    const dependencyDown = answer.status === 503 && (typeof reason === 'string' ? reason.endsWith('_UNAVAILABLE') : testCase.target.startsWith('/readyz'));
    if (!dependencyDown) findings.add(`${label} ${shorten(answer.body, 500)}`);
    return undefined;
  }
  // Node's own answers to what it cannot parse (400, 431, 505) carry no request id, and a HEAD answer no body.
  if (raw || answer.status === 431 || testCase.method === 'HEAD' || answer.status < 400) return undefined;
  if (!answer.headers['x-request-id']) findings.add(`${label}: no X-Request-Id`);
  if (!(body && typeof body === 'object' && 'error' in body)) return findings.add(`${label}: the body is not a JSON error: ${shorten(answer.body, 300)}`);
  const error = (body as { error: unknown }).error;
  if (typeof error === 'object' && error !== null && (error as { status?: unknown }).status === 'INVALID_ARGUMENT') {
    const violations = errorDetail(body, 'BadRequest')?.['fieldViolations'];
    if (!Array.isArray(violations) || violations.length === 0) findings.add(`${label}: INVALID_ARGUMENT without a field violation: ${shorten(answer.body, 300)}`);
  }
  return undefined;
}

/** An accepted POST names the jobs it wrote: a job, or a batch's results. */
function acceptWrite(target: FuzzTarget, testCase: HttpCase, text: string, findings: FuzzFindings): void {
  const body = parsed(text) as { jobId?: unknown; results?: Array<{ status?: { code?: number }; job?: { jobId?: string } }>; affectedJobIds?: unknown } | undefined;
  if (!body) return findings.add(`${testCase.description}: 200, but the body is not JSON: ${shorten(text, 300)}`);
  if (typeof body.jobId === 'string') target.acceptedJobIds.add(body.jobId);
  for (const result of body.results ?? []) if ((result.status?.code ?? 0) === 0 && result.job?.jobId) target.acceptedJobIds.add(result.job.jobId);
  return undefined;
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorDetail(body: unknown, type: string): Record<string, unknown> | undefined {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  return (details as Array<Record<string, unknown>>).find((detail) => detail['@type'] === `type.googleapis.com/google.rpc.${type}`);
}

/** A REST request that would be accepted as it is: its path's job id and its body; fresh job ids are named after the case. */
function validRestRequest(operationId: string, index: number, jobIds: readonly string[]): { path?: string; body: Record<string, unknown> } {
  const [root, child, , failed, queued] = jobIds as [string, string, string, string, string];
  const record = (suffix: string) => ({ jobId: `rest-${index}${suffix}`, type: 't', status: 'JOB_STATUS_SUCCEEDED', outputHash: 'h', parentJobIds: [root], labels: { team: 'fuzz' }, payload: { case: index } });
  switch (operationId) {
    case 'RecordJob':
      return { body: record('') };
    case 'BatchRecordJobs':
      return { body: { requests: [record('-a'), { ...record('-b'), parentJobIds: [child] }] } };
    case 'SubmitJob':
      return { body: { type: 'echo', payload: { case: index }, parentJobIds: [root] } };
    case 'RerunJob':
      return { path: root, body: {} };
    case 'CancelJob':
      return { path: queued, body: { reason: 'fuzz' } };
    case 'SetReaderSubjects':
      return { path: root, body: { readerSubjects: ['fuzz/reader'] } };
    case 'InvalidateCache':
      return { path: failed, body: { dryRun: true } };
    default:
      return { path: child, body: {} };
  }
}

function pathSegment(context: FuzzContext, field: string): string {
  const { random } = context;
  if (!odd(context) || random.chance(0.4)) return percentEncode(fuzzString({ ...context, oddness: 0 }, field));
  if (random.chance(0.5)) return random.pick(ODD_SEGMENTS);
  return percentEncode(fuzzString(context, field));
}

/** Query parameters of the route, some or all, with values of their type or not; sometimes unknown ones, repeated ones, bad escapes. */
function queryString(context: FuzzContext, route: RestRoute): string {
  const { random } = context;
  const pairs: string[] = [];
  for (const parameter of route.query) {
    if (!random.chance(0.5)) continue;
    const repeats = parameter.type === 'array' ? (odd(context) && random.chance(0.1) ? random.int(100, 1_500) : random.int(1, 3)) : odd(context) && random.chance(0.05) ? 2 : 1;
    for (let i = 0; i < repeats; i++) pairs.push(`${parameter.name}=${queryValue(context, parameter)}`);
  }
  if (odd(context) && random.chance(0.1)) pairs.push(random.pick(['unknown=1', '__proto__=1', 'constructor=x', 'labels[team]=fuzz', '%zz=1', 'page_size=%zz', '=', '&&', 'a=b=c', `${percentEncode(randomText(context, 8))}=1`]));
  return pairs.length > 0 ? `?${pairs.join('&')}` : '';
}

function queryValue(context: FuzzContext, parameter: OpenApiParameter): string {
  const { random } = context;
  const type = parameter.type === 'array' ? parameter.items?.type : parameter.type;
  const values = parameter.type === 'array' ? parameter.items?.enum : parameter.enum;
  if (odd(context) && random.chance(0.2)) return random.pick(['', '%zz', '%', 'maybe', '1.5', '-0', '1e3', '+1', String(2n ** 64n)]);
  if (type === 'integer') return String(fuzzInteger(context));
  if (type === 'boolean') return random.pick(['true', 'false']);
  if (values) return random.chance(0.8) ? random.pick(values) : random.pick(values).replace(/^[A-Z]+_[A-Z]+_/, '');
  return percentEncode(fuzzString(context, parameter.name));
}

/** The credentials of fuzzCredentials; sometimes an Accept or a Last-Event-ID too. */
function headersFor(context: FuzzContext, target: FuzzTarget, index: number): Array<[string, string]> {
  const { random } = context;
  const headers = fuzzCredentials(random, target.adminKey, index, 0.85);
  if (random.chance(0.1)) headers.push(['accept', random.pick(['application/json', 'text/event-stream', 'text/html', '*/*', 'x/y;q=0'])]);
  if (random.chance(0.05)) headers.push(['last-event-id', random.pick(['1-0', '0', 'x', `${random.int(0, 2 ** 40)}-0`])]);
  return headers;
}

/** A request as bytes: the request line, the headers, Connection: close, and the body; sometimes chunked, duplicated headers, bytes no header may hold, HTTP/1.0. */
function rawRequest(context: FuzzContext, method: string, requestTarget: string, headers: Array<[string, string]>, body: Buffer | undefined): Buffer {
  const { random } = context;
  const lines = [`${method} ${requestTarget} ${random.chance(0.1) ? 'HTTP/1.0' : 'HTTP/1.1'}`, 'Host: localhost', ...headers.map(([name, value]) => `${name}: ${value}`), 'Connection: close'];
  if (random.chance(0.1)) lines.push(random.pick(['Authorization: Bearer a', 'x-api-key: pk_other', 'X-Odd: \u00e9\u00ff', 'X-Odd: a\u007fb', `X-Big: ${'b'.repeat(random.int(8_000, 20_000))}`, 'Expect: 100-continue']));
  if (body === undefined) return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  if (random.chance(0.15)) {
    // Chunked: well-formed, or with a size that is not hexadecimal.
    const chunks = random.chance(0.8) ? `${body.length.toString(16)}\r\n` : 'zz\r\n';
    return Buffer.concat([Buffer.from(`${[...lines, 'Transfer-Encoding: chunked'].join('\r\n')}\r\n\r\n${chunks}`, 'latin1'), body, Buffer.from('\r\n0\r\n\r\n')]);
  }
  return Buffer.concat([Buffer.from(`${[...lines, `Content-Length: ${body.length}`].join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/** The text's UTF-8 bytes percent-encoded, but for unreserved characters. */
function percentEncode(text: string): string {
  let encoded = '';
  for (const byte of Buffer.from(text, 'utf8')) encoded += /[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return encoded;
}

function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function deepJson(levels: number): Buffer {
  return Buffer.from(`{"type": "echo", "payload": ${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`);
}

function shorten(text: string, length = 120): string {
  return text.length > length ? `${text.slice(0, length)}…(${text.length})` : text;
}
