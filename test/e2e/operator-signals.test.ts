import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus } from '@provenance/client';
import { makeApiKey, sha256Hex } from '../support/credentials.js';
import { FAST_EXECUTION, waitForJob } from '../support/execution.js';
import { connect, failure, subscribed, type Client } from '../support/grpc-client.js';
import { parseExposition, total, type Sample } from '../support/prometheus.js';
import { deleteQueueKeys, startRedisServer, uniqueQueuePrefix } from '../support/redis.js';
import { startServer, startWorker, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/waits.js';

const SERVICE = 'provenance.v1.ProvenanceService';
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
/** Unset, so that the server logs at its default level, as an operator's would. */
const DEFAULT_LOG_LEVEL = { PROVENANCE_LOG_LEVEL: undefined };

interface LogLine {
  level: number;
  msg: string;
  requestId?: string;
  [field: string]: unknown;
}

function logLines(server: ServerProcess): LogLine[] {
  return server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** The text exposition checked by Prometheus's own linter: it exits non-zero, naming the problem, on anything it refuses. */
function promtoolCheck(exposition: string): void {
  execFileSync('promtool', ['check', 'metrics'], { input: exposition, stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('what an operator sees: metrics and access lines', function () {
  this.timeout(120_000);
  let directory: string;
  let server: ServerProcess;
  let api: Client;
  const key = makeApiKey();
  const operator = { 'x-api-key': key };

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-operator-'));
    const keysFile = join(directory, 'api-keys.json');
    writeFileSync(keysFile, JSON.stringify([{ id: 'ops', sha256: sha256Hex(key), subject: 'ops-console', tenant: 'default', roles: ['admin', 'operator'] }]));
    server = await startServer({
      PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'),
      ...FAST_EXECUTION,
      PROVENANCE_JOB_TIMEOUT_MS: '2000',
      PROVENANCE_API_KEYS_FILE: keysFile,
      PROVENANCE_RATE_LIMIT: '0',
      ...DEFAULT_LOG_LEVEL,
    });
    api = connect(server.address, { headers: operator });
  });
  after(async () => {
    api?.close();
    await server?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  const exposition = async (): Promise<string> => {
    const response = await fetch(`http://${server.httpAddress}/metrics`, { headers: operator });
    expect(response.status).to.equal(200);
    return response.text();
  };
  const scrape = async (): Promise<Sample[]> => parseExposition(await exposition());

  it('serves /metrics that `promtool check metrics` accepts whole, the default Node metrics included', async () => {
    await api.recordJob({ jobId: 'lint-1', type: 'ingest', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'sha256:1' });
    const text = await exposition();
    expect(text).to.contain('process_cpu_user_seconds_total').and.to.contain('nodejs_eventloop_lag_seconds');
    expect(text).to.contain('provenance_store_operation_duration_seconds_bucket');
    promtoolCheck(text);
  });

  it('moves each metric when its event happens: store operations, relay lag, queue wait, retries, timeouts, streams', async () => {
    const before = await scrape();

    await api.recordJob({ jobId: 'sig-recorded', type: 'ingest', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'sha256:2' });
    const echo = await waitForJob(api, (await api.submitJob({ jobId: 'sig-echo', type: 'echo', payload: { text: 'hi' } })).jobId);
    const failing = await waitForJob(api, (await api.submitJob({ jobId: 'sig-fail', type: 'fail', payload: {} })).jobId);
    const stuck = await waitForJob(api, (await api.submitJob({ jobId: 'sig-sleep', type: 'sleep', payload: { ms: 60_000 } })).jobId, undefined, 30_000);
    expect([echo.status, failing.status, stuck.status]).to.deep.equal([JobStatus.JOB_STATUS_SUCCEEDED, JobStatus.JOB_STATUS_FAILED, JobStatus.JOB_STATUS_FAILED]);
    const stream = await subscribed(api.events({ jobIds: ['sig-echo'] }));
    stream.cancel();
    await until(async () => total(await scrape(), 'provenance_grpc_stream_duration_seconds_count') > total(before, 'provenance_grpc_stream_duration_seconds_count'), 'the stream to be counted');

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    expect(moved('provenance_store_operation_duration_seconds_count', { operation: 'insertJobs', outcome: 'ok' })).to.be.at.least(4);
    expect(moved('provenance_store_operation_duration_seconds_count', { operation: 'getJobs', outcome: 'ok' })).to.be.at.least(1);
    // A recorded job's three events: job.provenance.created, compute.job.completed, job.provenance.completed.
    expect(moved('provenance_event_relay_lag_seconds_count')).to.be.at.least(3);
    expect(total(after, 'provenance_event_outbox_backlog_events')).to.equal(0);
    expect(moved('provenance_job_queue_wait_seconds_count', { type: 'echo' })).to.equal(1);
    // Each of the failing jobs waited twice: once submitted, once after its retry's backoff.
    expect(moved('provenance_job_queue_wait_seconds_count', { type: 'fail' })).to.equal(2);
    expect(moved('provenance_job_retries_total', { type: 'fail', reason: 'handler_error' })).to.equal(1);
    expect(moved('provenance_job_retries_total', { type: 'sleep', reason: 'timeout' })).to.equal(1);
    expect(moved('provenance_job_timeouts_total', { type: 'sleep' })).to.equal(2);
    expect(moved('provenance_job_timeouts_total', { type: 'fail' })).to.equal(0);
    expect(moved('provenance_grpc_stream_duration_seconds_count', { method: `${SERVICE}/WatchEvents`, code: 'CANCELLED' })).to.equal(1);
    expect(total(after, 'provenance_grpc_request_duration_seconds_count', { method: `${SERVICE}/WatchEvents` })).to.equal(0);
    expect(moved('provenance_grpc_request_duration_seconds_count', { method: `${SERVICE}/SubmitJob`, code: 'OK' })).to.equal(3);

    const build = after.filter((sample) => sample.name === 'provenance_build_info');
    expect(build).to.have.length(1);
    expect(build[0]!.value).to.equal(1);
    expect(build[0]!.labels.version).to.equal(PACKAGE_VERSION);
    expect(build[0]!.labels.commit).to.match(/^([0-9a-f]{40}|unknown)$/);
    expect(total(after, 'provenance_redis_up', { connection: 'queue' })).to.equal(1);
    expect(total(after, 'provenance_redis_up', { connection: 'events' })).to.equal(1);
  });

  it('logs one access line per gRPC call and per HTTP request at the default level, naming the caller; a REST call names the real client', async () => {
    await api.recordJob({ jobId: 'access-job', type: 'ingest', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'sha256:3' });

    // gRPC, with an address of the client's own choosing in the entry the gateway uses: it is not believed.
    const grpcClient = connect(server.address, { headers: { ...operator, 'x-request-id': 'access-grpc-1', 'x-provenance-client-address': '10.9.9.9' } });
    try {
      expect((await failure(grpcClient.getJob({ jobId: 'access-none' }))).code).to.equal(status.NOT_FOUND);
    } finally {
      grpcClient.close();
    }
    await until(() => logLines(server).some((line) => line.requestId === 'access-grpc-1'), 'the gRPC access line');
    const [grpcLine, ...moreGrpc] = logLines(server).filter((line) => line.requestId === 'access-grpc-1');
    expect(moreGrpc).to.deep.equal([]);
    expect(grpcLine).to.deep.include({ level: 30, msg: 'call ended', method: `/${SERVICE}/GetJob`, code: 'NOT_FOUND', principal: 'ops-console', tenant: 'default', peer: '127.0.0.1' });
    expect(grpcLine!.durationMs).to.be.a('number');
    expect(grpcLine).not.to.have.property('via');

    // REST, from another loopback address than the gateway's own connection (127.0.0.1), so that the two cannot be confused.
    const [host, port] = server.httpAddress.split(':');
    const httpStatus = await new Promise<number>((resolve, reject) => {
      const sent = request({ host, port: Number(port), path: '/jobs/access-job/provenance', localAddress: '127.0.0.2', headers: { ...operator, 'x-request-id': 'access-rest-1' } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode!));
      });
      sent.on('error', reject);
      sent.end();
    });
    expect(httpStatus).to.equal(200);
    await until(() => logLines(server).filter((line) => line.requestId === 'access-rest-1').length >= 2, 'the REST call and its gRPC twin to be logged');
    const restLines = logLines(server).filter((line) => line.requestId === 'access-rest-1');
    expect(restLines.map((line) => line.msg).sort()).to.deep.equal(['call ended', 'request ended']);
    const http = restLines.find((line) => line.msg === 'request ended')!;
    expect(http).to.deep.include({ level: 30, method: 'GET', path: '/jobs/access-job/provenance', status: 200, principal: 'ops-console', tenant: 'default', peer: '127.0.0.2' });
    expect(http.durationMs).to.be.a('number');
    const twin = restLines.find((line) => line.msg === 'call ended')!;
    expect(twin).to.deep.include({ level: 30, method: `/${SERVICE}/GetJob`, code: 'OK', principal: 'ops-console', tenant: 'default', peer: '127.0.0.2', via: 'rest' });

    // A plain HTTP request (no caller to identify) is logged too.
    await fetch(`http://${server.httpAddress}/healthz`, { headers: { 'x-request-id': 'access-probe-1' } });
    await until(() => logLines(server).some((line) => line.requestId === 'access-probe-1'), 'the probe to be logged');
    expect(logLines(server).find((line) => line.requestId === 'access-probe-1')).to.deep.include({ level: 30, msg: 'request ended', path: '/healthz', status: 200 });
  });
});

describe('a worker process, as an operator sees it', function () {
  this.timeout(120_000);

  it('serves its own /metrics at PROVENANCE_WORKER_METRICS_ADDRESS, counting the jobs it runs, which promtool accepts', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'provenance-worker-metrics-'));
    const prefix = uniqueQueuePrefix();
    const shared = { PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_REDIS_PREFIX: prefix, ...DEFAULT_LOG_LEVEL };
    const processes: ServerProcess[] = [];
    try {
      const server = await startServer({ ...shared, PROVENANCE_IN_PROCESS_WORKERS: 'false' });
      processes.push(server);
      const worker = await startWorker({ ...shared, PROVENANCE_WORKER_METRICS_ADDRESS: '127.0.0.1:0' });
      processes.push(worker);
      const metricsAddress = /"metricsAddress":"([^"]+)"[^\n]*"msg":"working"/.exec(worker.output())?.[1];
      expect(metricsAddress).to.match(/^127\.0\.0\.1:\d+$/);
      const api = connect(server.address);
      try {
        const job = await waitForJob(api, (await api.submitJob({ jobId: 'worker-echo', type: 'echo', payload: { text: 'there' } })).jobId);
        expect(job.status).to.equal(JobStatus.JOB_STATUS_SUCCEEDED);
      } finally {
        api.close();
      }
      const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
      promtoolCheck(text);
      const samples = parseExposition(text);
      expect(total(samples, 'provenance_job_queue_wait_seconds_count', { type: 'echo' })).to.equal(1);
      expect(total(samples, 'provenance_jobs_completed_total', { type: 'echo', status: 'SUCCEEDED' })).to.equal(1);
      expect(total(samples, 'provenance_redis_up', { connection: 'queue' })).to.equal(1);
      expect(total(parseExposition(await (await fetch(`http://${server.httpAddress}/metrics`)).text()), 'provenance_job_queue_wait_seconds_count')).to.equal(0);
      expect((await fetch(`http://${metricsAddress}/readyz`)).status).to.equal(200);
      // Open with no authentication, as the server's listener is: another site's page is refused there the same way.
      const [host, port] = metricsAddress!.split(':');
      const statusWith = (headers: Record<string, string>) =>
        new Promise<number | undefined>((resolve, reject) => request({ host, port: Number(port), path: '/metrics', headers }, (response) => (response.resume(), resolve(response.statusCode))).on('error', reject).end());
      expect(await statusWith({ Host: 'rebound.example' })).to.equal(403);
      expect(await statusWith({ Origin: 'http://evil.example' })).to.equal(403);
      expect(await statusWith({ Host: `localhost:${port}` })).to.equal(200);
    } finally {
      for (const child of processes) await child.stop();
      await deleteQueueKeys(prefix);
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('a Redis outage, as an operator sees it', function () {
  this.timeout(120_000);

  it('logs one line when Redis is lost and one when it is back, shows it in provenance_redis_up, and relays the outbox backlog after', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'provenance-outage-'));
    let redis = await startRedisServer();
    // A Redis of its own, so a prefix of its own is not needed (nor could its keys be deleted once it is gone).
    const server = await startServer({
      PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'),
      REDIS_URL: redis.url,
      PROVENANCE_REDIS_PREFIX: 'outage',
      PROVENANCE_EVENT_RELAY_INTERVAL_MS: '200',
      ...DEFAULT_LOG_LEVEL,
    });
    const api = connect(server.address);
    const scrape = async () => parseExposition(await (await fetch(`http://${server.httpAddress}/metrics`)).text());
    const redisUp = async (connection: string) => total(await scrape(), 'provenance_redis_up', { connection });
    try {
      expect(await redisUp('queue')).to.equal(1);
      const before = await scrape();
      await redis.stop();
      await until(async () => (await redisUp('queue')) === 0 && (await redisUp('events')) === 0, 'provenance_redis_up to show both connections lost');
      // The write stands; its events wait in the outbox, which the sweep counts.
      await api.recordJob({ jobId: 'during-outage', type: 'ingest', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'sha256:4' });
      await until(async () => total(await scrape(), 'provenance_event_outbox_backlog_events') === 3, 'the sweep to count the three events left in the outbox');

      redis = await startRedisServer(redis.port);
      await until(async () => (await redisUp('queue')) === 1 && (await redisUp('events')) === 1, 'provenance_redis_up to show both connections back');
      await until(async () => total(await scrape(), 'provenance_event_outbox_backlog_events') === 0, 'the sweep to relay the backlog');
      const after = await scrape();
      expect(total(after, 'provenance_event_relay_lag_seconds_count') - total(before, 'provenance_event_relay_lag_seconds_count')).to.equal(3);
      await until(() => logLines(server).some((line) => line.msg === 'Redis connection back'), 'the line saying Redis is back');

      const warnings = logLines(server).filter((line) => line.level >= 40 && !/no authentication configured/.test(line.msg));
      expect(warnings.map((line) => line.msg)).to.deep.equal(['Redis connection lost; retrying in the background, further failures are counted, not logged']);
      expect(warnings[0]).to.have.property('reason').that.is.a('string');
      expect(server.output()).not.to.contain('"stack"');
      const back = logLines(server).filter((line) => line.msg === 'Redis connection back');
      expect(back).to.have.length(1);
      expect(back[0]!.level).to.equal(30);
      expect(back[0]!.suppressedErrors).to.be.above(0);
      expect(back[0]!.downMs).to.be.above(0);
    } finally {
      api.close();
      await server.stop();
      await redis.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
