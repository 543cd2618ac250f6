import { Metadata, status, type handleUnaryCall, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { jobNotFound, unavailable } from '../../src/domain/errors.js';
import type { Principal } from '../../src/domain/principal.js';
import { Job } from '@provenance/client/gen/provenance/v1/job';
import { GetJobRequest } from '@provenance/client/gen/provenance/v1/provenance_service';
import { CallEdge, type UseCase } from '../../src/grpc/call.js';
import { EncodedMessage } from '../../src/grpc/encoded-messages.js';
import { principalOf, setPrincipal } from '../../src/grpc/principal-metadata.js';
import { UndecodableRequest } from '../../src/grpc/request-decoding.js';
import { REQUEST_ID_HEADER } from '../../src/platform/request-id.js';
import { statusDetails } from '../support/grpc-client.js';
import { capturingLogger } from '../support/logs.js';

const CALLER: Principal = { subject: 'ada', tenant: 'lab', roles: ['reader'] };
const GET_JOB = '/provenance.v1.ProvenanceService/GetJob';

interface AuditedCall {
  principal: Principal;
  method: string;
  jobIds: readonly string[];
  outcome: string;
  shownTenants: ReadonlyMap<string, string> | undefined;
}

/** The edge over an audit trail that keeps its entries and, once told to, fails as the service's does. */
function edgeWithTrail(maxMessageBytes = 64 * 1024 * 1024) {
  const entries: AuditedCall[] = [];
  const trail = { failing: false };
  const { logger, lines } = capturingLogger();
  const service = {
    audit: async (principal: Principal, method: string, jobIds: readonly string[], outcome: string, shownTenants?: ReadonlyMap<string, string>) => {
      if (trail.failing) throw unavailable('the audit trail cannot be written right now, so the request is not answered; retry', 1000, 'AUDIT_UNAVAILABLE');
      entries.push({ principal, method, jobIds, outcome, shownTenants });
    },
  };
  return { edge: new CallEdge({ service, logger, principalOf, maxMessageBytes }), entries, trail, lines };
}

function callOf(request: unknown) {
  const metadata = new Metadata();
  setPrincipal(metadata, CALLER);
  metadata.set(REQUEST_ID_HEADER, 'edge-request-1');
  return { request, metadata };
}

interface Shown {
  jobId: string;
  tenant: string;
}

/** A read of one job of another tenant, answered by `answer`. */
function readingJob(answer: (jobId: string) => Promise<Shown>, discarded: Shown[] = []): UseCase<{ jobId: string }, Shown> {
  return {
    run: (request) => answer(request.jobId),
    audited: (request) => [request.jobId],
    shownTenants: (shown) => new Map([[shown.jobId, shown.tenant]]),
    discard: (shown) => discarded.push(shown),
  };
}

async function failureOf(answer: Promise<unknown>): Promise<ServiceError> {
  try {
    await answer;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('the call was answered, but it was expected to fail');
}

describe('CallEdge', () => {
  it('answers once the entry naming the caller, the method, the jobs and the tenants the answer shows is written', async () => {
    const { edge, entries } = edgeWithTrail();
    const answer = await edge.answer('getJob', callOf({ jobId: 'j1' }), readingJob(async (jobId) => ({ jobId, tenant: 'other' })));
    expect(answer).to.deep.equal({ jobId: 'j1', tenant: 'other' });
    expect(entries).to.deep.equal([{ principal: CALLER, method: GET_JOB, jobIds: ['j1'], outcome: 'OK', shownTenants: new Map([['j1', 'other']]) }]);
  });

  it('audits a refusal with its status and no tenants, and answers its status with details', async () => {
    const { edge, entries, lines } = edgeWithTrail();
    const error = await failureOf(edge.answer('getJob', callOf({ jobId: 'j2' }), readingJob((jobId) => Promise.reject(jobNotFound(jobId)))));
    expect(error.code).to.equal(status.NOT_FOUND);
    expect(statusDetails(error).resourceInfo?.resourceName).to.equal('jobs/j2');
    expect(entries).to.deep.equal([{ principal: CALLER, method: GET_JOB, jobIds: ['j2'], outcome: 'NOT_FOUND', shownTenants: undefined }]);
    expect(lines).to.deep.equal([]);
  });

  it('masks an internal error behind the one error id it logs, with the request id', async () => {
    const { edge, entries, lines } = edgeWithTrail();
    const error = await failureOf(edge.answer('getJob', callOf({ jobId: 'j3' }), readingJob(() => Promise.reject(new Error('secret connection string')))));
    expect(error.code).to.equal(status.INTERNAL);
    expect(error.details).not.to.contain('secret');
    const { errorId } = statusDetails(error).errorInfo!.metadata;
    expect(lines.map((line) => [line.msg, line.errorId, line.method, line.requestId])).to.deep.equal([['internal error', errorId, GET_JOB, 'edge-request-1']]);
    expect(entries.map((entry) => entry.outcome)).to.deep.equal(['INTERNAL']);
  });

  it('refuses a request that could not be decoded without running the use case, and audits it naming no job', async () => {
    const { edge, entries } = edgeWithTrail();
    let ran = false;
    const useCase = readingJob(async (jobId) => {
      ran = true;
      return { jobId, tenant: 'lab' };
    });
    const error = await failureOf(edge.answer('getJob', callOf(new UndecodableRequest('holds too many fields')), useCase));
    expect(ran).to.equal(false);
    expect(error.code).to.equal(status.INVALID_ARGUMENT);
    expect(statusDetails(error).badRequest?.fieldViolations.map((v) => [v.field, v.description])).to.deep.equal([['request', 'holds too many fields']]);
    expect(entries).to.deep.equal([{ principal: CALLER, method: GET_JOB, jobIds: [], outcome: 'INVALID_ARGUMENT', shownTenants: undefined }]);
  });

  it('withholds an answer it cannot audit: AUDIT_UNAVAILABLE instead, and the answer discarded', async () => {
    const { edge, trail } = edgeWithTrail();
    trail.failing = true;
    const discarded: Shown[] = [];
    const error = await failureOf(edge.answer('getJob', callOf({ jobId: 'j4' }), readingJob(async (jobId) => ({ jobId, tenant: 'lab' }), discarded)));
    expect(error.code).to.equal(status.UNAVAILABLE);
    expect(statusDetails(error).errorInfo?.reason).to.equal('AUDIT_UNAVAILABLE');
    expect(discarded).to.deep.equal([{ jobId: 'j4', tenant: 'lab' }]);
  });

  it('keeps the reason of a call that failed UNAVAILABLE itself when its entry cannot be written either; any other failure becomes AUDIT_UNAVAILABLE', async () => {
    const { edge, trail } = edgeWithTrail();
    trail.failing = true;
    const discarded: Shown[] = [];
    const storeDown = await failureOf(edge.answer('getJob', callOf({ jobId: 'j5' }), readingJob(() => Promise.reject(unavailable('the store is down')), discarded)));
    expect(statusDetails(storeDown).errorInfo?.reason).to.equal('STORE_UNAVAILABLE');
    const missing = await failureOf(edge.answer('getJob', callOf({ jobId: 'j6' }), readingJob((jobId) => Promise.reject(jobNotFound(jobId)), discarded)));
    expect(statusDetails(missing).errorInfo?.reason).to.equal('AUDIT_UNAVAILABLE');
    expect(discarded).to.deep.equal([]);
  });

  /** The outcome of a GetJob handler: its error, or its answer (encoded by the edge, sent as it is) decoded. */
  const outcome = (handler: handleUnaryCall<GetJobRequest, Job>, jobId: string) =>
    new Promise<{ error: ServiceError | null; job: Job | undefined }>((resolve) =>
      handler(callOf(GetJobRequest.fromPartial({ jobId })) as unknown as ServerUnaryCall<GetJobRequest, Job>, (error, job) =>
        resolve({ error: error as ServiceError | null, job: job ? Job.decode((job as unknown as EncodedMessage).bytes) : undefined }),
      ),
    );

  it('hands a unary call its answer or its status through the grpc-js callback', async () => {
    const { edge } = edgeWithTrail();
    const answering = edge.unary('getJob', { run: async (request) => Job.fromPartial({ jobId: request.jobId, tenant: 'lab' }), audited: (request) => [request.jobId] });
    expect(await outcome(answering, 'j7')).to.deep.equal({ error: null, job: Job.fromPartial({ jobId: 'j7', tenant: 'lab' }) });
    const refusing = edge.unary('getJob', { run: (request) => Promise.reject(jobNotFound(request.jobId)), audited: (request) => [request.jobId] });
    expect((await outcome(refusing, 'j8')).error?.code).to.equal(status.NOT_FOUND);
  });

  it('refuses an answer over the send limit as ANSWER_TOO_LARGE, with its size, and audits it so', async () => {
    const { edge, entries } = edgeWithTrail(1024);
    const answering = edge.unary('getJob', {
      run: async (request) => Job.fromPartial({ jobId: request.jobId, type: 't'.repeat(1020) }),
      audited: (request) => [request.jobId],
    });
    const { error } = await outcome(answering, 'big');
    expect(error?.code).to.equal(status.RESOURCE_EXHAUSTED);
    const { errorInfo } = statusDetails(error);
    expect(errorInfo?.reason).to.equal('ANSWER_TOO_LARGE');
    expect(errorInfo?.metadata).to.deep.equal({ answerBytes: '1028', maxMessageBytes: '1024' });
    expect(entries.map((e) => [e.jobIds, e.outcome])).to.deep.equal([[['big'], 'RESOURCE_EXHAUSTED']]);
    // An encoded answer is measured as it is.
    const encoded = edge.unary<'getJob', EncodedMessage>('getJob', { run: async () => new EncodedMessage(Buffer.alloc(1025)), audited: () => [] });
    expect((await outcome(encoded, 'framed')).error?.code).to.equal(status.RESOURCE_EXHAUSTED);
  });
});
