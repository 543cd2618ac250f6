import { status, type handleUnaryCall, type Metadata, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { answerTooLarge } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { ProvenanceServiceService, type ProvenanceServiceServer } from '@provenance/client/gen/provenance/v1/provenance_service';
import type { ProvenanceService } from '../service/provenance-service.js';
import { EncodedMessage } from './encoded-messages.js';
import { toServiceError } from './errors.js';
import { UndecodableRequest } from './request-decoding.js';
import { requestLogger } from './request-id-metadata.js';

/** Of the service, the edge itself needs the audit trail only; the handlers use the rest. */
export type AuditTrail = Pick<ProvenanceService, 'audit'>;

export interface CallDependencies<S extends AuditTrail = ProvenanceService> {
  service: S;
  logger: Logger;
  /** Who is calling (set by the authentication interceptor). */
  principalOf(call: { metadata: Metadata }): Principal;
  /** The largest message the server sends (PROVENANCE_MAX_MESSAGE_BYTES): a unary answer over it is refused (ANSWER_TOO_LARGE). */
  maxMessageBytes: number;
}

/** A method of ProvenanceService, as its definition names it (recordJob, watchEvents...). */
export type MethodName = keyof typeof ProvenanceServiceService;

/** The unary methods, and the messages of each: what a handler's use case is typed by. */
type UnaryMethod = { [M in MethodName]: ProvenanceServiceServer[M] extends handleUnaryCall<never, unknown> ? M : never }[MethodName];
type RequestOf<M extends UnaryMethod> = ProvenanceServiceServer[M] extends handleUnaryCall<infer Req, unknown> ? Req : never;
type ResponseOf<M extends UnaryMethod> = ProvenanceServiceServer[M] extends handleUnaryCall<never, infer Res> ? Res : never;

/** What one RPC does between the wire and the audit trail. */
export interface UseCase<Req, Res> {
  /** Maps the request, calls the service, maps its answer. */
  run(request: Req, principal: Principal, log: Logger): Promise<Res>;
  /** The jobs the call read or wrote, for its audit entry; `response` is undefined when the call failed. */
  audited(request: Req, response: Res | undefined): string[];
  /** The tenants of the audited jobs that the answer shows, which the audit then need not look up. */
  shownTenants?(response: Res, principal: Principal): ReadonlyMap<string, string>;
  /** Undoes an answer that is not sent because its audit entry could not be written (a subscription opened is closed). */
  discard?(response: Res): void;
}

/**
 * The one place where a call becomes a use case and its outcome an answer:
 * the caller's principal, the request's decoding failure, the audit entry
 * (who, which jobs, the outcome) written before anything is answered, and
 * the translation of errors to statuses (internal ones masked). Unary calls
 * and the WatchEvents stream pass here alike; the REST gateway forwards its
 * calls to them.
 */
export class CallEdge<S extends AuditTrail = ProvenanceService> {
  constructor(readonly deps: CallDependencies<S>) {}

  /** The path audit entries, logs and error details name a method by. */
  static pathOf(method: MethodName): string {
    return ProvenanceServiceService[method].path;
  }

  /** The logger of one call: its lines name the call's request id. */
  logOf(call: { metadata: Metadata }): Logger {
    return requestLogger(this.deps.logger, call.metadata);
  }

  /** What the caller sees of an error: its status with google.rpc details, or INTERNAL masking it. */
  failureOf(method: MethodName, error: unknown, log: Logger): ServiceError {
    return toServiceError(error, CallEdge.pathOf(method), log);
  }

  /**
   * The answer to a call, once its audit entry is written; or the
   * ServiceError the call ends with. When the entry cannot be written, the
   * call fails UNAVAILABLE (AUDIT_UNAVAILABLE) instead, unless it failed
   * UNAVAILABLE already: its own reason says better what to wait for.
   */
  async answer<Req, Res>(method: MethodName, call: { request: unknown; metadata: Metadata }, useCase: UseCase<Req, Res>): Promise<Res> {
    const path = CallEdge.pathOf(method);
    const log = this.logOf(call);
    const request = call.request as Req | UndecodableRequest;
    const principal = this.deps.principalOf(call);
    let response: Res | undefined;
    let failure: ServiceError | undefined;
    try {
      if (request instanceof UndecodableRequest) throw request.toError();
      response = await useCase.run(request, principal, log);
    } catch (error) {
      failure = toServiceError(error, path, log);
    }
    const audited = request instanceof UndecodableRequest ? [] : useCase.audited(request, response);
    const shownTenants = response === undefined ? undefined : (useCase.shownTenants?.(response, principal) ?? new Map<string, string>());
    try {
      await this.deps.service.audit(principal, path, audited, failure ? status[failure.code] : 'OK', shownTenants);
    } catch (auditError) {
      if (response !== undefined) useCase.discard?.(response);
      throw failure?.code === status.UNAVAILABLE ? failure : toServiceError(auditError, path, log);
    }
    if (failure) throw failure;
    return response!;
  }

  /** A grpc-js unary handler of the use case. */
  unary<M extends UnaryMethod, Res extends ResponseOf<M> | EncodedMessage = ResponseOf<M>>(method: M, useCase: UseCase<RequestOf<M>, Res>): handleUnaryCall<RequestOf<M>, ResponseOf<M>> {
    const measuredUseCase = measured(method, useCase, this.deps.maxMessageBytes);
    return (call, callback) => {
      void this.answer(method, call, measuredUseCase).then(
        // The service definition writes an EncodedMessage as it is (encoded-messages.ts).
        ({ message }) => callback(null, message as unknown as ResponseOf<M>),
        (failure: ServiceError) => callback(failure),
      );
    };
  }
}

/** An answer with its encoding, measured before the call's audit entry is written. */
interface MeasuredAnswer<Res> {
  response: Res;
  message: EncodedMessage;
}

/**
 * The use case, its answer encoded here (grpc-js would encode it the same,
 * once) and refused as ANSWER_TOO_LARGE when it is over the send limit:
 * grpc-js would fail it with a bare "Sent message larger than max", no
 * details, and the audit entry would say OK. That is after the work: RecordJob
 * and BatchRecordJobs have the service check their answer before it writes
 * (handlers/jobs.ts), and this is their backstop.
 */
function measured<Req, Res>(method: MethodName, useCase: UseCase<Req, Res>, maxBytes: number): UseCase<Req, MeasuredAnswer<Res>> {
  const serialize = ProvenanceServiceService[method].responseSerialize as (value: Res) => Buffer;
  const { shownTenants, discard } = useCase;
  return {
    run: async (request, principal, log) => {
      const response = await useCase.run(request, principal, log);
      const message = response instanceof EncodedMessage ? response : new EncodedMessage(serialize(response));
      if (message.bytes.byteLength > maxBytes) {
        throw answerTooLarge(message.bytes.byteLength, maxBytes, 'ask for less (a smaller page_size, a lower max_nodes or max_depth; StreamLineage gives a lineage of any size in parts)');
      }
      return { response, message };
    },
    audited: (request, answer) => useCase.audited(request, answer?.response),
    shownTenants: shownTenants && ((answer, principal) => shownTenants.call(useCase, answer.response, principal)),
    discard: discard && ((answer) => discard.call(useCase, answer.response)),
  };
}
