import { ReplyError } from 'ioredis';
import { ProvenanceError, unavailable } from '../../domain/errors.js';

/** Replies of a Redis that is up but cannot serve right now: loading its data, busy in a script, without a primary. */
const NOT_SERVING_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/;

/** What ioredis raises, without a reply, when a command cannot reach the server. */
const CONNECTION_FAILURE_NAMES = new Set(['AbortError', 'InterruptError', 'MaxRetriesPerRequestError']);
const CONNECTION_FAILURE_MESSAGES = /^(Stream isn't writeable|Connection is closed|Command timed out)/;

/**
 * Turns an ioredis failure that means "Redis cannot be reached right now"
 * into ProvenanceError UNAVAILABLE; returns any other error unchanged.
 * ioredis raises ReplyError for what the server answered; its other failures
 * (refused or reset sockets, a closed connection, a command refused while
 * disconnected, retries used up) are about the connection. The driver's
 * message stays out of what callers see: it names hosts.
 */
export function translateRedisError(error: unknown): unknown {
  if (error instanceof ProvenanceError || !isRedisUnreachable(error)) return error;
  const translated = unavailable('the job queue (Redis) is unavailable; retry later', 1000, 'QUEUE_UNAVAILABLE');
  translated.cause = error;
  return translated;
}

/** Whether an ioredis failure means that Redis cannot be reached (or cannot serve) right now. */
export function isRedisUnreachable(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  return error instanceof ReplyError
    ? NOT_SERVING_REPLY.test(error.message)
    : CONNECTION_FAILURE_NAMES.has(error.name) || CONNECTION_FAILURE_MESSAGES.test(error.message) || typeof (error as NodeJS.ErrnoException).syscall === 'string';
}
