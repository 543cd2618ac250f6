import { unavailable, type ProvenanceError } from '../../domain/errors.js';

/**
 * What a closed in-memory adapter answers: what a real adapter answers once
 * its database or Redis is gone, so that tests of the callers can take a
 * dependency away by closing it.
 */
export function closedAdapter(what: string, reason?: string): ProvenanceError {
  return unavailable(`the in-memory ${what} is closed`, 1000, reason);
}
