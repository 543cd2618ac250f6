import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { GetJobRequest, JobStatus, ProvenanceClient } from '@provenance/client';
import type { Scenario } from '../support/context.js';
import { ECHO_PATH } from '../support/echo-server.js';
import { percentile, runInFlight } from '../support/stats.js';

/** The client's own channel options, given to the baseline's client too, so both sides use one client setup. */
const CHANNEL_OPTIONS = { 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
/** Ours and the baseline take turns, so that load from elsewhere on the machine falls on both alike. */
const ROUNDS = 3;
const ECHO_SERVER = fileURLToPath(new URL('../support/echo-server.js', import.meta.url));
const JOB_ID = 'unary-train';

/**
 * Scenario 2: GetJob calls per second with sizes.unaryInFlight calls in
 * flight, through @provenance/client against a live server, against a bare
 * grpc-js server (its own process too) answering a unary call with as many
 * bytes as the encoded GetJob answer, called by a bare grpc-js client with
 * the same channel options and the same calls in flight.
 */
export const unary: Scenario = {
  name: 'unary',
  async run(context) {
    const { unaryCalls, unaryInFlight } = context.sizes;
    // 'info': the harness knows a server is up from its "serving" line (logged at info); the server logs nothing per call at info.
    const server = await context.startServer({ PROVENANCE_LOG_LEVEL: 'info' });
    const client = new ProvenanceClient({ address: server.address, channelOptions: CHANNEL_OPTIONS });
    let echo: EchoServer | undefined;
    let echoClient: Client | undefined;
    try {
      await recordRealisticJob(client);
      const responseBytes = await encodedGetJobBytes(client);
      echo = await startEchoServer(responseBytes);
      const bareClient = (echoClient = new Client(echo.address, credentials.createInsecure(), CHANNEL_OPTIONS));
      const getJob = () => client.getJob({ jobId: JOB_ID });
      const callEcho = () => echoCall(bareClient);

      const callsPerRound = Math.ceil(unaryCalls / ROUNDS);
      const warmUpCalls = Math.min(2000, callsPerRound);
      await drive(getJob, warmUpCalls, unaryInFlight);
      await drive(callEcho, warmUpCalls, unaryInFlight);
      const ours: number[] = [];
      const baseline: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        ours.push(await drive(getJob, callsPerRound, unaryInFlight));
        baseline.push(await drive(callEcho, callsPerRound, unaryInFlight));
      }
      context.report({
        scenario: 'unary',
        name: `GetJob, ${unaryInFlight} in flight, median of ${ROUNDS} rounds`,
        unit: 'calls/s',
        ours: percentile(ours, 0.5),
        baseline: percentile(baseline, 0.5),
        better: 'higher',
        budget: 0.6,
        notes: {
          'response bytes': responseBytes,
          'calls per round': callsPerRound,
          'ours per round': ours.map((r) => Math.round(r)).join('/'),
          'baseline per round': baseline.map((r) => Math.round(r)).join('/'),
        },
      });
    } finally {
      client.close();
      echoClient?.close();
      await echo?.stop();
      await context.stop(server);
    }
  },
};

/** A job as services record them: a few payload fields, two parents, a provider, labels, times and an output hash. */
async function recordRealisticJob(client: ProvenanceClient): Promise<void> {
  const provider = { id: 'etl', model: 'csv-loader', version: '1.4' };
  for (const jobId of ['unary-raw', 'unary-features']) {
    await client.recordJob({ jobId, type: 'ingest', payload: { source: `s3://bucket/${jobId}.csv` }, provider, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: `sha256:${jobId}` });
  }
  await client.recordJob({
    jobId: JOB_ID,
    type: 'train',
    payload: { lr: 0.01, epochs: 5, features: ['age', 'income', 'region'], dataset: 's3://bucket/features.parquet', seed: 42 },
    parentJobIds: ['unary-raw', 'unary-features'],
    provider: { id: 'gpu-pool', model: 'xgboost', version: '2.0.3' },
    labels: { team: 'risk', stage: 'nightly' },
    status: JobStatus.JOB_STATUS_SUCCEEDED,
    startTime: new Date('2026-11-26T09:00:00Z'),
    completeTime: new Date('2026-11-26T09:12:30Z'),
    outputHash: 'sha256:77ab10c4e2f95b3d81a6c0f7e49d2b58a1c3e6f0d7b92a4c5e81f3d6a0b7c9e2',
  });
}

/** The size of the GetJob answer as it travels: the call made with the raw client, the answer kept as bytes. */
function encodedGetJobBytes(client: ProvenanceClient): Promise<number> {
  return new Promise((resolve, reject) =>
    client.raw.makeUnaryRequest(
      '/provenance.v1.ProvenanceService/GetJob',
      (request: GetJobRequest) => Buffer.from(GetJobRequest.encode(request).finish()),
      (bytes: Buffer) => bytes,
      GetJobRequest.fromPartial({ jobId: JOB_ID }),
      (error, bytes) => (error ? reject(error) : resolve(bytes!.length)),
    ),
  );
}

const EMPTY_REQUEST = Buffer.alloc(0);
const identity = (bytes: Buffer): Buffer => bytes;

function echoCall(client: Client): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(ECHO_PATH, identity, identity, EMPTY_REQUEST, new Metadata(), {}, (error, bytes) => (error ? reject(error) : resolve(bytes!))),
  );
}

/** Makes `total` calls, `inFlight` at a time, and answers calls per second. */
async function drive(call: () => Promise<unknown>, total: number, inFlight: number): Promise<number> {
  const start = process.hrtime.bigint();
  await runInFlight(total, inFlight, call);
  return total / (Number(process.hrtime.bigint() - start) / 1e9);
}

interface EchoServer {
  address: string;
  stop(): Promise<void>;
}

function startEchoServer(responseBytes: number): Promise<EchoServer> {
  const child: ChildProcess = spawn(process.execPath, [ECHO_SERVER, String(responseBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const listening = /listening (\S+)/.exec(output);
      if (listening) resolve({ address: listening[1]!, stop });
    });
    void exited.then(() => reject(new Error(`the echo server exited before serving: ${output}`)));
  });
}
