import {
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { unavailable } from '../../domain/errors.js';

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

/**
 * Turns a driver failure meaning "the database cannot be reached right now"
 * into ProvenanceError UNAVAILABLE, after the driver's own retry; returns any
 * other error unchanged. MongoNetworkError covers timeouts and cleared pools too.
 */
export function translateDriverError(error: unknown): unknown {
  if (!(error instanceof MongoError)) return error;
  const unreachable =
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoTopologyClosedError ||
    error.hasErrorLabel(MongoErrorLabel.RetryableWriteError) ||
    error.hasErrorLabel(MongoErrorLabel.ResetPool) ||
    error.hasErrorLabel(MongoErrorLabel.SystemOverloadedError) ||
    (typeof error.code === 'number' && NODE_UNAVAILABLE_CODES.has(error.code));
  return unreachable ? unavailable(`MongoDB is unavailable: ${error.message}`) : error;
}
