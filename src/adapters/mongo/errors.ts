import {
  MongoBulkWriteError,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { ProvenanceError, unavailable } from '../../domain/errors.js';

/**
 * Server codes that mean the node cannot serve right now (shutting down,
 * stepping down, unreachable): the codes the driver retries reads on.
 */
const NODE_UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** Socket errors the driver sometimes lets through unwrapped when a server goes away mid-call. */
const SOCKET_ERROR_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN']);

/** ExceededMemoryLimit and QueryExceededMemoryLimitNoDiskUseAllowed: a $graphLookup over too large a lineage. */
const MEMORY_LIMIT_CODES = new Set([146, 292]);

/**
 * Turns a driver failure meaning "the database cannot be reached right now"
 * into ProvenanceError UNAVAILABLE, after the driver's own retry, and a query
 * over the server's memory limit into RESOURCE_EXHAUSTED; returns any other
 * error unchanged. MongoNetworkError covers timeouts and cleared pools too.
 * The driver's message stays out of what callers see: it names hosts.
 */
export function translateDriverError(error: unknown): unknown {
  // A bulk write (insertMany) that never reached a server wraps the driver's error, e.g. a server selection
  // timeout, without its class: judged by the wrapper, the same outage would be INTERNAL or UNAVAILABLE by timing.
  if (error instanceof MongoBulkWriteError && error.errorResponse instanceof MongoError) {
    const underlying = translateDriverError(error.errorResponse);
    return underlying === error.errorResponse ? error : underlying;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (!(error instanceof MongoError)) {
    return typeof code === 'string' && SOCKET_ERROR_CODES.has(code) ? unavailableBecause(error) : error;
  }
  if (typeof code === 'number' && MEMORY_LIMIT_CODES.has(code)) {
    return new ProvenanceError(
      'RESOURCE_EXHAUSTED',
      'the lineage is too large for the database to walk in memory; ask for a smaller max_depth',
      'LINEAGE_TOO_LARGE',
    );
  }
  const unreachable =
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoTopologyClosedError ||
    error.hasErrorLabel(MongoErrorLabel.RetryableWriteError) ||
    error.hasErrorLabel(MongoErrorLabel.ResetPool) ||
    error.hasErrorLabel(MongoErrorLabel.SystemOverloadedError) ||
    (typeof error.code === 'number' && NODE_UNAVAILABLE_CODES.has(error.code));
  return unreachable ? unavailableBecause(error) : error;
}

function unavailableBecause(cause: unknown): ProvenanceError {
  const error = unavailable('the database is unavailable; retry later');
  error.cause = cause;
  return error;
}
