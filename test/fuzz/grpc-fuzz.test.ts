import { Metadata, status, type Client as GrpcClient, type ServiceError } from '@grpc/grpc-js';
import type { DescMethod } from '@bufbuild/protobuf';
import {
  BatchRecordJobsRequest,
  BatchRecordJobsResponse,
  CancelJobRequest,
  InvalidateCacheRequest,
  Job,
  JobStatus,
  RecordJobRequest,
  RerunJobRequest,
  SetReaderSubjectsRequest,
  statusDetails,
  SubmitJobRequest,
  type DeepPartial,
} from '@provenance/client';
import { expect } from 'chai';
import { fuzzCredentials } from './fuzz-values.js';
import { CALL_DEADLINE_MS, FuzzFindings, fuzzRun, runCases, type FuzzRun } from './fuzz-run.js';
import { grpcPath, loadServiceSchema, mutate, randomBytes, randomFieldBytes, randomMessageBytes } from './protobuf-fuzz.js';
import {
  checkAlive,
  checkMemory,
  isAlive,
  checkStoredByAcceptedWritesOnly,
  checkSubscriptionsReleased,
  rawGrpcClient,
  rawUnaryCall,
  residentBytes,
  startFuzzTarget,
  watchHealth,
  type FuzzTarget,
} from './fuzz-target.js';

/** Requests sent by `npm test`; `npm run fuzz` sets FUZZ_ITERATIONS far higher. */
const DEFAULT_ITERATIONS = 250;
const CONCURRENCY = 4;
/** The most bytes of strings and elements one structured request is built with. */
const REQUEST_BUDGET_BYTES = 2 * 1024 * 1024;

/** The methods that write jobs, and how an accepted answer names the jobs it wrote. */
const WRITES: Record<string, (response: Buffer) => string[]> = {
  RecordJob: (response) => [Job.decode(response).jobId],
  SubmitJob: (response) => [Job.decode(response).jobId],
  RerunJob: (response) => [Job.decode(response).jobId],
  CancelJob: (response) => [Job.decode(response).jobId],
  BatchRecordJobs: (response) =>
    BatchRecordJobsResponse.decode(response)
      .results.filter((result) => (result.status?.code ?? status.OK) === status.OK)
      .map((result) => result.job!.jobId),
};

/**
 * Statuses no request may get, whatever it holds: a masked failure of the
 * server (INTERNAL, UNKNOWN, DATA_LOSS), a method it does not serve, a call
 * that hung to its deadline, and a connection that broke (UNAVAILABLE; but a
 * dependency that is down is not the request's fault, and says so).
 */
const FAILURES = new Set([status.INTERNAL, status.UNKNOWN, status.DATA_LOSS, status.UNIMPLEMENTED, status.DEADLINE_EXCEEDED, status.UNAVAILABLE]);

interface GrpcCase {
  method: DescMethod;
  /** How the request was made: random bytes, a structured message, one mutated, another method's request. */
  kind: string;
  request: Buffer;
  /** Metadata entries, in order (a name twice is sent twice). */
  metadata: Array<[string, string]>;
}

describe('fuzz: every gRPC method of ProvenanceService', function () {
  const run: FuzzRun = fuzzRun('gRPC fuzz', DEFAULT_ITERATIONS);
  // A request of a few MiB takes well under a second; the allowance is for a busy machine.
  this.timeout(180_000 + run.iterations * 200);
  const schema = loadServiceSchema();
  let target: FuzzTarget;
  let client: GrpcClient;

  before(async () => {
    target = await startFuzzTarget();
    client = rawGrpcClient(target.server.address);
  });
  after(async () => {
    client?.close();
    await target?.stop();
  });

  it('answers malformed and random requests with a status, stays SERVING, bounded in memory, and stores nothing it refused', async () => {
    const findings = new FuzzFindings(run);
    const memoryBefore = residentBytes(target.server.child.pid!);
    const health = watchHealth(target);
    const methods = [...schema.unary, ...schema.serverStreaming];
    const answers = new Map<string, Map<string, number>>();
    expect(schema.unary.map((method) => method.name)).to.include.members(Object.keys(WRITES));

    const makeCase = (index: number): GrpcCase => {
      const { random } = run;
      // Some requests are right but in a place or two, to get past validation to the code behind it.
      const oddness = random.chance(0.4) ? random.pick([0, 0.02, 0.05, 0.1]) : 1;
      const context = { random, jobIds: target.seededJobIds, budget: { bytes: REQUEST_BUDGET_BYTES }, oddness };
      // Streaming methods are a small share: each open subscription is cancelled as soon as it is registered.
      const method = random.chance(0.05) ? random.pick(schema.serverStreaming) : random.pick(schema.unary);
      const roll = random.next();
      let kind: string;
      let request: Buffer;
      if (roll < 0.2) {
        // A request that is right (a write that would be accepted, a read of a job that exists) but in one field.
        const changed = randomFieldBytes(context, method.input);
        request = Buffer.concat([validRequest(method.name, index, target.seededJobIds), changed.bytes]);
        kind = `valid but ${changed.field}, ${oddness * 100}% odd values`;
      } else if (roll < 0.3) {
        request = randomBytes(context, random.chance(0.8) ? random.int(0, 64) : random.int(65, 8_192));
        kind = 'random bytes';
      } else if (roll < 0.35) {
        const other = random.pick(methods);
        request = Buffer.from(randomMessageBytes(context, other.input));
        kind = `a ${other.input.name}`;
      } else if (roll < 0.55) {
        const mutation = mutate(context, randomMessageBytes(context, method.input));
        request = mutation.bytes;
        kind = `mutated (${mutation.how})`;
      } else {
        request = Buffer.from(randomMessageBytes(context, method.input));
        kind = oddness === 1 ? 'structured' : `structured, ${oddness * 100}% odd values`;
      }
      return { method, kind, request, metadata: fuzzCredentials(run.random, target.adminKey, index, 0.88) };
    };

    try {
      await runCases(run, CONCURRENCY, makeCase, async (testCase, index) => {
        // Once the server is gone every call fails the same way; the finding is its exit, with its output.
        if (!isAlive(target)) return;
        const label = `#${index} ${testCase.method.name}, ${testCase.kind}, ${testCase.request.length} bytes (${testCase.request.subarray(0, 48).toString('hex')}${testCase.request.length > 48 ? '…' : ''}), metadata ${JSON.stringify(testCase.metadata.map(([name, value]) => [name, value === target.adminKey ? '<valid key>' : value]))}`;
        const metadata = new Metadata();
        for (const [name, value] of testCase.metadata) metadata.add(name, value);
        if (testCase.method.methodKind === 'server_streaming') {
          const error = await openAndLeave(client, grpcPath(testCase.method), testCase.request, metadata);
          if (error) judgeError(error, label, findings);
          return;
        }
        const { response, error } = await rawUnaryCall(client, grpcPath(testCase.method), testCase.request, metadata);
        tally(answers, testCase.method.name, status[error?.code ?? status.OK]!);
        if (error) return judgeError(error, label, findings);
        const written = WRITES[testCase.method.name];
        if (!written) return undefined;
        try {
          for (const id of written(response!)) target.acceptedJobIds.add(id);
        } catch (decodeError) {
          findings.add(`${label}: accepted, but its answer does not decode: ${String(decodeError)}`);
        }
        return undefined;
      });

      console.log(`      answers: ${[...answers].map(([method, codes]) => `${method} ${[...codes].map(([code, count]) => `${code}×${count}`).join(' ')}`).join('; ')}`);
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

/** A request of the method that would be accepted as it is: fresh job ids (named after the case), existing parents, consistent fields. */
function validRequest(method: string, index: number, jobIds: readonly string[]): Buffer {
  const [root, child, , failed, queued] = jobIds as [string, string, string, string, string];
  const record = (suffix: string): DeepPartial<RecordJobRequest> => ({
    jobId: `fuzz-${index}${suffix}`,
    type: 't',
    status: JobStatus.JOB_STATUS_SUCCEEDED,
    outputHash: 'h',
    parentJobIds: [root],
    labels: { team: 'fuzz' },
    payload: { case: index },
  });
  const encoded = <T>(codec: { fromPartial(object: DeepPartial<T>): T; encode(message: T): { finish(): Uint8Array } }, object: DeepPartial<T>) => Buffer.from(codec.encode(codec.fromPartial(object)).finish());
  switch (method) {
    case 'RecordJob':
      return encoded(RecordJobRequest, record(''));
    case 'BatchRecordJobs':
      return encoded(BatchRecordJobsRequest, { requests: [record('-a'), record('-b'), { ...record('-c'), parentJobIds: [child] }] });
    case 'SubmitJob':
      return encoded(SubmitJobRequest, { type: 'echo', payload: { case: index }, parentJobIds: [root], labels: { team: 'fuzz' } });
    case 'RerunJob':
      return encoded(RerunJobRequest, { jobId: root });
    case 'CancelJob':
      return encoded(CancelJobRequest, { jobId: queued, reason: 'fuzz' });
    case 'SetReaderSubjects':
      return encoded(SetReaderSubjectsRequest, { jobId: root, readerSubjects: ['fuzz/reader'] });
    case 'InvalidateCache':
      return encoded(InvalidateCacheRequest, { jobId: failed, dryRun: true });
    default:
      // Every read of this service takes a job_id as field 1, or nothing (ListJobs, ListAuditEvents: field 1 is page_size, and 0 is its default).
      return method.startsWith('List') && !method.includes('Dependents') ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, Buffer.byteLength(child)]), Buffer.from(child)]);
  }
}

/** Counts one answer of a method by its status, for the run's summary: which code the requests reached. */
function tally(answers: Map<string, Map<string, number>>, method: string, code: string): void {
  const codes = answers.get(method) ?? new Map<string, number>();
  codes.set(code, (codes.get(code) ?? 0) + 1);
  answers.set(method, codes);
}

/** Whether a failed call's status is one a request may get; if not, a finding. INVALID_ARGUMENT must say what was wrong, field by field. */
function judgeError(error: ServiceError, label: string, findings: FuzzFindings): void {
  const details = statusDetails(error);
  const dependencyDown = error.code === status.UNAVAILABLE && /_UNAVAILABLE$/.test(details?.errorInfo?.reason ?? '');
  if (FAILURES.has(error.code) && !dependencyDown) {
    findings.add(`${label}: ${status[error.code]} ${JSON.stringify(error.details)}`);
  } else if (error.code === status.INVALID_ARGUMENT && !(details?.badRequest?.fieldViolations.length ?? 0)) {
    findings.add(`${label}: INVALID_ARGUMENT without a field violation: ${JSON.stringify(error.details)}`);
  }
}

/**
 * Opens a server-streaming call and leaves as soon as the server has
 * registered it (its headers arrive) or answered a status; resolves with
 * that status when it is not OK. A call that gets neither before its
 * deadline hung, and resolves with DEADLINE_EXCEEDED.
 */
function openAndLeave(client: GrpcClient, path: string, request: Buffer, metadata: Metadata): Promise<ServiceError | undefined> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(path, (bytes: Buffer) => bytes, (bytes: Buffer) => bytes, request, metadata, { deadline: Date.now() + CALL_DEADLINE_MS });
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      call.cancel();
      resolve(undefined);
    };
    call.on('metadata', leave);
    call.on('data', leave);
    call.on('error', (error: ServiceError) => {
      if (left) return;
      left = true;
      resolve(error);
    });
    call.on('end', () => {
      if (!left) leave();
    });
  });
}
