import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { GetJobRequest, JobStatus, LineageDirection, type Job } from '@provenance/client';
import { until } from '../support/waits.js';
import { FAST_EXECUTION, waitForJob } from '../support/execution.js';
import { collectEvents, connect, failure, subscribed, type Client } from '../support/grpc-client.js';
import { parseExposition, total, type Sample } from '../support/prometheus.js';
import { startRedisServer } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const OPERATIONS_PAGE = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SERVICE = 'provenance.v1.ProvenanceService';

describe('the HTTP listener', function () {
  this.timeout(60_000);
  let directory: string;
  let server: ServerProcess;
  let api: Client;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-http-'));
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), ...FAST_EXECUTION });
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`http://${server.httpAddress}${path}`, { headers });
  const scrape = async (): Promise<Sample[]> => {
    const response = await get('/metrics');
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    return parseExposition(await response.text());
  };

  it('answers /healthz and /readyz with 200 when the store and the queue answer', async () => {
    expect(server.httpAddress).to.match(/^127\.0\.0\.1:\d+$/);
    expect(server.httpAddress).not.to.equal('127.0.0.1:0');
    const health = await get('/healthz');
    expect(health.status).to.equal(200);
    expect(await health.json()).to.deep.equal({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.equal({ ready: true, checks: { store: 'ok', queue: 'ok' } });
  });

  it('answers 404 for an unknown path and 405 for another method, as JSON', async () => {
    const missing = await get('/nothing-here');
    expect(missing.status).to.equal(404);
    expect(await missing.json()).to.deep.include({ error: { code: 404, message: 'no route for /nothing-here', status: 'NOT_FOUND', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ROUTE_NOT_FOUND', domain: 'provenance.v1' }] } });
    const posted = await fetch(`http://${server.httpAddress}/metrics`, { method: 'POST' });
    expect(posted.status).to.equal(405);
    expect(posted.headers.get('allow')).to.equal('GET, HEAD');
  });

  it('echoes a well-formed X-Request-Id, and gives one to every other HTTP request', async () => {
    expect((await get('/healthz', { 'X-Request-Id': 'probe-7.a:b' })).headers.get('x-request-id')).to.equal('probe-7.a:b');
    expect((await get('/healthz')).headers.get('x-request-id')).to.match(UUID);
    expect((await get('/healthz', { 'X-Request-Id': 'x'.repeat(129) })).headers.get('x-request-id')).to.match(UUID);
    const id = (await get('/nothing-here', { 'X-Request-Id': 'http-log-1' })).headers.get('x-request-id');
    expect(id).to.equal('http-log-1');
    await until(() => /"requestId":"http-log-1"[^\n]*"status":404[^\n]*"msg":"request ended"/.test(server.output()), 'the request to be logged');
  });

  it('runs the curl examples of docs/operations.md as written', async () => {
    const commands = [...OPERATIONS_PAGE.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => block[1]!.split('\n').filter((line) => line.startsWith('curl ')));
    expect(commands).to.have.length(5);
    const outputs: string[] = [];
    for (const command of commands) {
      const { stdout } = await promisify(execFile)('sh', ['-c', command.replaceAll('127.0.0.1:8080', server.httpAddress)]);
      expect(stdout, command).not.to.equal('');
      outputs.push(stdout);
    }
    expect(JSON.parse(outputs[0]!)).to.deep.equal({ status: 'ok' });
    expect(JSON.parse(outputs[1]!)).to.deep.include({ ready: true });
    expect(outputs[2]).to.match(/^provenance_queue_jobs\{state="waiting"\} \d+$/m);
    expect(outputs[3]).to.match(/^HTTP\/1\.1 200 OK\r$/m).and.to.match(/^X-Request-Id: my-trace-1\r$/m);
    expect(outputs[4]).to.equal('metrics pass promtool\n');
  });

  it('answers every gRPC call with its request id, and logs the call under it', async () => {
    await api.recordJob({ jobId: 'rid-job', type: 'ingest', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'sha256:1' });

    const generated = await rawGetJob(api, 'rid-job', new Metadata());
    expect(generated.error).to.equal(null);
    const id = String(generated.headers.get('x-request-id')[0]);
    expect(id).to.match(UUID);
    await until(() => new RegExp(`"requestId":"${id}"[^\\n]*"method":"/${SERVICE}/GetJob"[^\\n]*"code":"OK"[^\\n]*"msg":"call ended"`).test(server.output()), 'the call to be logged');

    const chosen = new Metadata();
    chosen.set('x-request-id', 'client-chosen-42');
    const echoed = await rawGetJob(api, 'rid-job', chosen);
    expect(echoed.headers.get('x-request-id')).to.deep.equal(['client-chosen-42']);

    // A call that fails before any header is sent carries it in its trailers.
    const missing = new Metadata();
    missing.set('x-request-id', 'missing-job-call');
    const refused = await rawGetJob(api, 'no-such-job', missing);
    expect(refused.error?.code).to.equal(status.NOT_FOUND);
    expect(refused.error?.metadata.get('x-request-id')).to.deep.equal(['missing-job-call']);
    await until(() => /"requestId":"missing-job-call"[^\n]*"code":"NOT_FOUND"[^\n]*"msg":"call ended"/.test(server.output()), 'the failed call to be logged');

    const malformed = new Metadata();
    malformed.set('x-request-id', 'has spaces and ; semicolons');
    expect(String((await rawGetJob(api, 'rid-job', malformed)).headers.get('x-request-id')[0])).to.match(UUID);
  });

  it('moves the metrics as jobs are submitted, run, recorded, walked, checked, invalidated and watched', async () => {
    const before = await scrape();
    const stream = await subscribed(api.events({ jobIds: ['m-doc'] }));
    expect(total(await scrape(), 'provenance_event_subscribers')).to.equal(total(before, 'provenance_event_subscribers') + 1);

    const doc = await waitForJob(api, (await api.submitJob({ jobId: 'm-doc', type: 'echo', payload: { text: 'metrics' } })).jobId);
    const digest = await waitForJob(api, (await api.submitJob({ jobId: 'm-digest', type: 'sha256', parentJobIds: ['m-doc'] })).jobId);
    const again = await waitForJob(api, (await api.submitJob({ jobId: 'm-doc-again', type: 'echo', payload: { text: 'metrics' } })).jobId);
    for (const job of [doc, digest, again]) expect(job.status, job.jobId).to.equal(JobStatus.JOB_STATUS_SUCCEEDED);
    expect(again.result?.cached).to.equal(true);
    await api.recordJob({ jobId: 'm-recorded', type: 'm-ingest', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'sha256:2' });
    const lineage = await api.getLineage({ jobId: 'm-digest', direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS });
    expect(lineage.nodes).to.have.length(1);
    expect((await api.checkReproducibility({ jobId: 'm-digest' })).reproducible).to.equal(true);
    expect((await api.checkReproducibility({ jobId: 'm-recorded' })).reproducible).to.equal(false);
    expect((await api.invalidateCache({ jobId: 'm-doc' })).affectedCount).to.equal(2);
    expect((await failure(api.getJob({ jobId: 'm-none' }))).code).to.equal(status.NOT_FOUND);
    // m-doc: submitted, provenance created, started, completed, provenance completed, cache invalidated.
    const { events } = await collectEvents(stream, 6);
    stream.cancel();
    await until(async () => total(await scrape(), 'provenance_event_subscribers') === total(before, 'provenance_event_subscribers'), 'the subscription to close');

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    const submitted = { origin: 'SUBMITTED' };
    expect(moved('provenance_jobs_created_total', { type: 'echo', ...submitted })).to.equal(2);
    expect(moved('provenance_jobs_created_total', { type: 'sha256', ...submitted })).to.equal(1);
    expect(moved('provenance_jobs_created_total', { type: 'm-ingest', origin: 'RECORDED' })).to.equal(1);
    expect(moved('provenance_jobs_completed_total', { type: 'echo', status: 'SUCCEEDED', ...submitted })).to.equal(2);
    expect(moved('provenance_jobs_completed_total', { type: 'sha256', status: 'SUCCEEDED', ...submitted })).to.equal(1);
    expect(moved('provenance_jobs_completed_total', { type: 'm-ingest', status: 'SUCCEEDED', origin: 'RECORDED' })).to.equal(1);
    expect(moved('provenance_job_duration_seconds_count', { type: 'sha256', status: 'SUCCEEDED' })).to.equal(1);
    expect(moved('provenance_cache_lookups_total', { result: 'miss' })).to.equal(2);
    expect(moved('provenance_cache_lookups_total', { result: 'hit' })).to.equal(1);
    expect(moved('provenance_cache_invalidated_jobs_total')).to.equal(2);
    expect(moved('provenance_reproducibility_checks_total', { outcome: 'reproducible' })).to.equal(1);
    expect(moved('provenance_reproducibility_checks_total', { outcome: 'not_reproducible' })).to.equal(1);
    expect(moved('provenance_lineage_duration_seconds_count')).to.equal(1);
    expect(moved('provenance_lineage_nodes_count')).to.equal(1);
    expect(moved('provenance_lineage_nodes_sum')).to.equal(1);
    expect(events.map((event) => event.type)).to.have.length(6);
    expect(moved('provenance_events_delivered_total')).to.equal(6);
    const calls = (method: string, code: string) => moved('provenance_grpc_request_duration_seconds_count', { method: `${SERVICE}/${method}`, code });
    expect(calls('SubmitJob', 'OK')).to.equal(3);
    expect(calls('RecordJob', 'OK')).to.equal(1);
    expect(calls('GetLineage', 'OK')).to.equal(1);
    expect(calls('CheckReproducibility', 'OK')).to.equal(2);
    expect(calls('InvalidateCache', 'OK')).to.equal(1);
    expect(calls('GetJob', 'NOT_FOUND')).to.equal(1);
    expect(calls('WatchEvents', 'CANCELLED')).to.equal(0);
    expect(moved('provenance_grpc_stream_duration_seconds_count', { method: `${SERVICE}/WatchEvents`, code: 'CANCELLED' })).to.equal(1);
  });

  it('shows the jobs the queue holds by state, and a cancelled job as completed', async () => {
    const before = await scrape();
    await api.submitJob({ jobId: 'm-nap', type: 'sleep', payload: { ms: 60_000 } });
    await waitForJob(api, 'm-nap', (job: Job) => job.status === JobStatus.JOB_STATUS_RUNNING);
    expect(total(await scrape(), 'provenance_queue_jobs', { state: 'active' })).to.equal(1);
    await api.cancelJob({ jobId: 'm-nap' });
    await until(async () => total(await scrape(), 'provenance_queue_jobs', { state: 'active' }) === 0, 'the queue to let the job go');
    const after = await scrape();
    expect(total(after, 'provenance_queue_jobs', { state: 'waiting' })).to.equal(0);
    const cancelled = { type: 'sleep', origin: 'SUBMITTED', status: 'CANCELLED' };
    expect(total(after, 'provenance_jobs_completed_total', cancelled) - total(before, 'provenance_jobs_completed_total', cancelled)).to.equal(1);
  });
});

describe('the HTTP listener, configured', function () {
  this.timeout(60_000);

  it('answers /readyz 503 naming the queue while Redis is down', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'provenance-http-'));
    const redis = await startRedisServer();
    // A Redis of its own, so a prefix of its own is not needed (nor could its keys be deleted once it is gone).
    const server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), REDIS_URL: redis.url, PROVENANCE_REDIS_PREFIX: 'readyz' });
    try {
      expect((await fetch(`http://${server.httpAddress}/readyz`)).status).to.equal(200);
      await redis.stop();
      const response = await fetch(`http://${server.httpAddress}/readyz`);
      expect(response.status).to.equal(503);
      expect(await response.json()).to.deep.equal({ ready: false, checks: { store: 'ok', queue: 'unavailable' } });
      expect((await fetch(`http://${server.httpAddress}/healthz`)).status).to.equal(200);
    } finally {
      await server.stop();
      await redis.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('is switched off by PROVENANCE_HTTP_ADDRESS=off', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'provenance-http-'));
    const server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_HTTP_ADDRESS: 'off' });
    try {
      expect(server.httpAddress).to.equal('');
      expect(server.output()).not.to.contain('httpAddress');
    } finally {
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

/** GetJob through the generated stub, with the response headers (or the error and its trailers). */
function rawGetJob(api: Client, jobId: string, metadata: Metadata): Promise<{ headers: Metadata; error: ServiceError | null }> {
  return new Promise((resolve) => {
    let headers = new Metadata();
    const call = api.raw.getJob(GetJobRequest.fromPartial({ jobId }), metadata, (error) => resolve({ headers, error }));
    call.on('metadata', (received: Metadata) => (headers = received));
  });
}
