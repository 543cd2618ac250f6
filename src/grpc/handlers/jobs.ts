import type { ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import { Job } from '@provenance/client/gen/provenance/v1/job';
import { writeAnswerTooLarge } from '../../domain/errors.js';
import type { JobView } from '../../domain/job-view.js';
import type { AnswerCheck } from '../../service/record-jobs.js';
import { CallEdge } from '../call.js';
import { encodeWhole } from '../encoded-messages.js';
import { OK_STATUS, toRpcStatus } from '../errors.js';
import { toJobMessage, toRecordJobCommand, toSetReaderSubjectsCommand } from '../mapping.js';
import { FIELD_FRAMING_BYTES, pageBytes } from '../page-bytes.js';
import { ids, jobIdsOf, recordedWithParents, tenantOf, tenantsOf } from './audited-jobs.js';

/** Recording, sharing and reading jobs: RecordJob, BatchRecordJobs, SetReaderSubjects, GetJob, ListJobs. */
export function jobHandlers(edge: CallEdge): Pick<ProvenanceServiceServer, 'recordJob' | 'batchRecordJobs' | 'setReaderSubjects' | 'getJob' | 'listJobs'> {
  const { service, maxMessageBytes } = edge.deps;
  // Checked by the service before anything is stored: an answer refused after the write would leave the records standing.
  const sendableJob: AnswerCheck = (jobs) => refuseOver(maxMessageBytes, jobs.length > 0 ? jobMessageBytes(jobs[0]!) : 0);
  const sendableBatch: AnswerCheck = (jobs, refused) => refuseOver(maxMessageBytes, batchAnswerBound(jobs, refused, maxMessageBytes));
  const jobPageBytes = pageBytes(maxMessageBytes, jobMessageBytes);
  return {
    recordJob: edge.unary('recordJob', {
      run: async (request, principal) => toJobMessage(await service.recordJob(principal, toRecordJobCommand(request), sendableJob)),
      audited: (request, job) => ids([job?.jobId ?? request.jobId].concat(request.parentJobIds)),
      shownTenants: tenantOf,
    }),

    batchRecordJobs: edge.unary('batchRecordJobs', {
      run: async (request, principal, log) => {
        const outcomes = await service.batchRecordJobs(principal, request.requests.map(toRecordJobCommand), sendableBatch);
        return {
          results: outcomes.map((outcome) =>
            outcome.ok
              ? { status: OK_STATUS, job: toJobMessage(outcome.job) }
              : { status: toRpcStatus(outcome.error, CallEdge.pathOf('batchRecordJobs'), log), job: undefined },
          ),
        };
      },
      audited: (request, response) => (response ? recordedWithParents(request.requests, response.results) : ids(request.requests.map((r) => r.jobId))),
      shownTenants: (response) => tenantsOf(response.results.map((r) => r.job)),
    }),

    setReaderSubjects: edge.unary('setReaderSubjects', {
      run: async (request, principal) => toJobMessage(await service.setReaderSubjects(principal, toSetReaderSubjectsCommand(request))),
      audited: (request) => ids([request.jobId]),
      shownTenants: tenantOf,
    }),

    // Encoded here, in its frame: grpc-js then sends it without a copy (encodeWhole).
    getJob: edge.unary('getJob', {
      run: async (request, principal) => {
        const job = toJobMessage(await service.getJob(principal, request.jobId || undefined, request.asOf));
        return encodeWhole(Job, job, tenantOf(job));
      },
      audited: (request) => ids([request.jobId]),
      shownTenants: (response) => response.shownTenants,
    }),

    listJobs: edge.unary('listJobs', {
      run: async (request, principal) => {
        const page = await service.listJobs(principal, {
          pageSize: request.pageSize,
          pageToken: request.pageToken || undefined,
          filter: request.filter || undefined,
        }, jobPageBytes);
        return { jobs: page.jobs.map(toJobMessage), nextPageToken: page.nextPageToken };
      },
      audited: (_request, response) => jobIdsOf(response?.jobs ?? []),
      shownTenants: (response) => tenantsOf(response.jobs),
    }),
  };
}

/** A job's message, encoded. */
function jobMessageBytes(job: JobView): number {
  return Job.encode(toJobMessage(job)).finish().byteLength;
}

/** A refused record's result in a BatchRecordJobs answer, at most: its google.rpc.Status (under 6 KiB, ERROR_BOUNDS) and framing. */
const REFUSED_RESULT_BYTES = 6 * 1024 + 2 * FIELD_FRAMING_BYTES;

/**
 * A bound on a BatchRecordJobs answer: each record's result (its job, an OK
 * status and their framing), or a refused record's; counted until it passes
 * limitBytes, which is enough to refuse.
 */
function batchAnswerBound(jobs: readonly JobView[], refused: number, limitBytes: number): number {
  let bytes = refused * REFUSED_RESULT_BYTES;
  for (const job of jobs) {
    if (bytes > limitBytes) break;
    bytes += jobMessageBytes(job) + 3 * FIELD_FRAMING_BYTES;
  }
  return bytes;
}

function refuseOver(maxBytes: number, answerBytes: number): void {
  if (answerBytes > maxBytes) throw writeAnswerTooLarge(answerBytes, maxBytes);
}
