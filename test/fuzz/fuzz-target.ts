import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { Client as GrpcClient, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { JobStatus, StartPosition } from '@provenance/client';
import { collectEventsUntil, connect, type Client } from '../support/grpc-client.js';
import { makeApiKey, makeTemporaryDirectory, sha256Hex, type TemporaryDirectory } from '../support/credentials.js';
import { scrapeMetrics, total } from '../support/prometheus.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { CALL_DEADLINE_MS, type FuzzFindings } from './fuzz-run.js';

/**
 * The server a fuzz suite sends its requests to: a process of its own, as
 * `npm start` runs it, on a fresh SQLite store, with API keys configured
 * (so credentials are checked, and wrong ones throttled) and no workers (so
 * that nothing but the requests writes to the store). The callers' rate
 * limit is lifted: the fuzz sends far more than 500 calls a second would
 * allow only on a fast machine, and refusing them would leave code unreached.
 */
export interface FuzzTarget {
  server: ServerProcess;
  /** An API key of the admin of tenant acme, who may call every method. */
  adminKey: string;
  /** An API key of an operator, who may read /metrics. */
  operatorKey: string;
  /** The TypeScript client, as the admin. */
  api: Client;
  /** Jobs recorded before the fuzz, which requests name so as to get past lookups: a chain of three, a failed one, a queued one. */
  seededJobIds: string[];
  /** Every job id an accepted write answered with, the seeded ones included: what the store may hold. */
  acceptedJobIds: Set<string>;
  stop(): Promise<void>;
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const directory: TemporaryDirectory = await makeTemporaryDirectory('provenance-fuzz-');
  const adminKey = makeApiKey();
  const operatorKey = makeApiKey();
  const keysFile = await directory.write(
    'api-keys.json',
    JSON.stringify([
      { id: 'fuzzer', sha256: sha256Hex(adminKey), subject: 'fuzzer', tenant: 'acme', roles: ['admin'] },
      { id: 'ops', sha256: sha256Hex(operatorKey), subject: 'ops', tenant: 'acme', roles: ['operator'] },
    ]),
  );
  let server: ServerProcess;
  try {
    server = await startServer({
      PROVENANCE_STORAGE_TYPE: 'sqlite',
      PROVENANCE_SQLITE_PATH: `${directory.path}/provenance.db`,
      PROVENANCE_IN_PROCESS_WORKERS: 'false',
      PROVENANCE_API_KEYS_FILE: keysFile,
      PROVENANCE_RATE_LIMIT: '1000000',
      PROVENANCE_RATE_LIMIT_BURST: '1000000',
    });
  } catch (error) {
    await directory.remove();
    throw error;
  }
  const api = connect(server.address, { headers: { 'x-api-key': adminKey } });
  const seededJobIds = await seedJobs(api);
  // Once the fuzz's wrong credentials have throttled this address, only credentials already used from it are checked: the operator's is used now.
  await scrapeMetrics(server.httpAddress, { 'x-api-key': operatorKey });
  return {
    server,
    adminKey,
    operatorKey,
    api,
    seededJobIds,
    acceptedJobIds: new Set(seededJobIds),
    async stop() {
      api.close();
      await server.stop();
      await directory.remove();
    },
  };
}

async function seedJobs(api: Client): Promise<string[]> {
  const recorded = { type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h', payload: { n: 1 }, labels: { team: 'fuzz' } };
  await api.recordJob({ ...recorded, jobId: 'fuzz-root' });
  await api.recordJob({ ...recorded, jobId: 'fuzz-child', parentJobIds: ['fuzz-root'] });
  await api.recordJob({ ...recorded, jobId: 'fuzz-grandchild', parentJobIds: ['fuzz-child', 'fuzz-root'] });
  await api.recordJob({ jobId: 'fuzz-failed', type: 't', status: JobStatus.JOB_STATUS_FAILED, error: { reason: 'E', message: 'failed on purpose' } });
  const queued = await api.submitJob({ type: 'echo', payload: { n: 2 }, parentJobIds: ['fuzz-root'] });
  return ['fuzz-root', 'fuzz-child', 'fuzz-grandchild', 'fuzz-failed', queued.jobId];
}

/** A grpc-js client that sends and returns bytes as they are: the methods' paths are called by name, with requests no generated client would encode. */
export function rawGrpcClient(address: string): GrpcClient {
  return new GrpcClient(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 256 * 1024 * 1024 });
}

export function rawUnaryCall(client: GrpcClient, path: string, request: Buffer, metadata: Metadata, deadlineMs = CALL_DEADLINE_MS): Promise<{ response?: Buffer; error?: ServiceError }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => bytes,
      request,
      metadata,
      { deadline: Date.now() + deadlineMs },
      (error, response) => resolve(error ? { error } : { response: response! }),
    );
  });
}

/** grpc.health.v1 Check of the whole server: 'SERVING', else what was answered instead. */
export async function grpcHealth(client: GrpcClient, adminKey: string, deadlineMs: number): Promise<string> {
  const metadata = new Metadata();
  metadata.set('x-api-key', adminKey);
  const { response, error } = await rawUnaryCall(client, '/grpc.health.v1.Health/Check', Buffer.alloc(0), metadata, deadlineMs);
  if (error) return `code ${error.code} (${error.details})`;
  // HealthCheckResponse.status (field 1, varint): 1 is SERVING.
  return response!.length === 2 && response![0] === 0x08 && response![1] === 0x01 ? 'SERVING' : `response ${response!.toString('hex')}`;
}

/** How long a health check may take, during the fuzz and after it, before the server counts as not serving. */
const HEALTH_DEADLINE_MS = 10_000;

/**
 * Checks, over and over until stopped, that the server answers gRPC health
 * SERVING and GET /healthz 200, each within HEALTH_DEADLINE_MS: a request
 * that holds the event loop, or kills the process, shows here. stop()
 * ends the checks and resolves with what they found, after one last check.
 */
export function watchHealth(target: FuzzTarget): { stop(): Promise<string[]> } {
  const client = rawGrpcClient(target.server.address);
  const problems: string[] = [];
  let stopped = false;
  let wakeUp = () => {};
  const check = async () => {
    const [grpc, http] = await Promise.all([
      grpcHealth(client, target.adminKey, HEALTH_DEADLINE_MS),
      httpStatus(target.server.httpAddress, '/healthz', HEALTH_DEADLINE_MS),
    ]);
    if (grpc !== 'SERVING') problems.push(`gRPC health answered ${grpc}`);
    if (http !== '200') problems.push(`GET /healthz answered ${http}`);
  };
  const loop = (async () => {
    while (!stopped) {
      await check();
      await new Promise<void>((resolve) => {
        wakeUp = resolve;
        setTimeout(resolve, 250);
      });
    }
    await check();
  })();
  return {
    async stop() {
      stopped = true;
      wakeUp();
      await loop;
      client.close();
      return problems;
    },
  };
}

export function isAlive(target: FuzzTarget): boolean {
  return target.server.child.exitCode === null && target.server.child.signalCode === null;
}

/** Whether the server process still runs; if not, a finding with the end of what it printed. */
export function checkAlive(target: FuzzTarget, findings: FuzzFindings): boolean {
  if (isAlive(target)) return true;
  const { child } = target.server;
  findings.addFirst(`the server exited (code ${child.exitCode}, signal ${child.signalCode}); its last output:\n${target.server.output().slice(-4_000)}`);
  return false;
}

/** GET path's status, on a connection of its own (none the fuzz's requests could have left closing); else what went wrong. */
function httpStatus(address: string, path: string, deadlineMs: number): Promise<string> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    const request = httpGet({ host, port: Number(port), path, agent: false, timeout: deadlineMs }, (response) => {
      response.resume();
      resolve(String(response.statusCode));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${deadlineMs} ms`)));
    request.on('error', (error) => resolve(String(error)));
  });
}

/** The resident set size of a process, from /proc. */
export function residentBytes(pid: number): number {
  const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kilobytes === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kilobytes) * 1024;
}

/**
 * How much the server's resident memory may grow over a fuzz run: the
 * allocator keeps some of what a large request took, and SQLite its page
 * cache, so only a leak or a request that holds memory after its answer
 * passes this.
 */
export const MEMORY_GROWTH_BOUND = 256 * 1024 * 1024;

export function checkMemory(target: FuzzTarget, before: number, findings: FuzzFindings): void {
  if (!checkAlive(target, findings)) return;
  const after = residentBytes(target.server.child.pid!);
  const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
  console.log(`      server RSS: ${mib(before)} before, ${mib(after)} after`);
  if (after - before > MEMORY_GROWTH_BOUND) findings.add(`the server's RSS grew from ${mib(before)} to ${mib(after)}, more than ${mib(MEMORY_GROWTH_BOUND)}`);
}

/**
 * Nothing was stored by a refused write: the store holds exactly the jobs
 * accepted writes answered with (a job more is a refused write that was
 * stored; a job less is an accepted one that was lost), and every event
 * the log holds is of one of them.
 */
export async function checkStoredByAcceptedWritesOnly(target: FuzzTarget, findings: FuzzFindings): Promise<void> {
  const stored = new Set<string>();
  let pageToken = '';
  do {
    const page = await target.api.listJobs({ pageSize: 1000, pageToken });
    for (const job of page.jobs) stored.add(job.jobId);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  for (const id of stored) if (!target.acceptedJobIds.has(id)) findings.add(`job ${JSON.stringify(id)} is stored, but no accepted write answered with it`);
  for (const id of target.acceptedJobIds) if (!stored.has(id)) findings.add(`job ${JSON.stringify(id)} was accepted, but is not stored`);

  // The log is read from its oldest event up to one written after every request: each event before it has arrived then.
  const sentinel = (await target.api.recordJob({ jobId: `fuzz-sentinel-${Date.now()}`, type: 't', status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h' })).jobId;
  const stream = target.api.events({ startPosition: StartPosition.START_POSITION_OLDEST });
  const { events, error } = await collectEventsUntil(stream, (read) => read.some((event) => event.jobId === sentinel), `the event of ${sentinel}`, 120_000);
  stream.cancel();
  if (error) findings.add(`reading the event log failed: ${error.code} ${error.details}`);
  const unexplained = new Set(events.map((event) => event.jobId).filter((id) => id !== sentinel && !target.acceptedJobIds.has(id)));
  for (const id of unexplained) findings.add(`the event log holds events of job ${JSON.stringify(id)}, which no accepted write answered with`);
  console.log(`      ${stored.size} jobs stored, ${events.length} events logged, all of accepted writes: ${unexplained.size === 0 && stored.size === target.acceptedJobIds.size}`);
}

/** Every subscription the fuzz opened is released once its caller has gone: the subscribers gauge comes back to 0. */
export async function checkSubscriptionsReleased(target: FuzzTarget, findings: FuzzFindings): Promise<void> {
  const deadline = Date.now() + CALL_DEADLINE_MS;
  let open = Number.NaN;
  while (Date.now() < deadline) {
    open = total(await scrapeMetrics(target.server.httpAddress, { 'x-api-key': target.operatorKey }), 'provenance_event_subscribers');
    if (open === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  findings.add(`${open} event subscriptions still open ${CALL_DEADLINE_MS} ms after their callers left`);
}
