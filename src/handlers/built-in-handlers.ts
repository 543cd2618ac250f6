import { canonicalJson, sha256Hex } from '../domain/hashing.js';
import type { JobHandler, JobHandlerInput } from '../domain/ports/job-handlers.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../domain/json.js';
import { describeValue, HandlerRegistry } from './handler-registry.js';

/**
 * Small handlers that make the service usable from grpcurl without writing
 * any code; docs/handlers.md gives their payloads, outputs and examples.
 */

export const MAX_SLEEP_MS = 10 * 60 * 1000;

/** Returns its payload. */
export const echo: JobHandler = ({ payload }) => payload;

/** Waits payload.ms milliseconds; an abort clears the timer and rejects with the signal's reason at once. */
export const sleep: JobHandler = ({ payload, signal }) => {
  const ms = payload['ms'];
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
    throw new Error(`sleep: payload.ms must be a number of milliseconds from 0 to ${MAX_SLEEP_MS}, got ${describeJson(ms)}`);
  }
  signal.throwIfAborted();
  return new Promise<JsonValue>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve({ sleptMs: ms });
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
};

/** SHA-256 over the canonical JSON of { payload, parents: [each parent's output hash, in parent order] }. */
export const sha256: JobHandler = ({ payload, parents }) => ({
  sha256: sha256Hex(canonicalJson({ payload, parents: parents.map((parent) => parent.outputHash) })),
});

/**
 * Merges the parents' object outputs, left to right in parent order: a key of
 * a later parent wins. The output and the errors name no parent by its id, only
 * by its place in parent_job_ids, and an error tells no more of a parent's
 * output than its kind: the record shows each caller its parents' ids, or
 * placeholders for those it may not read (docs/access-model.md), and the
 * output and the error, shown to every reader of the job, must not tell them.
 */
export const merge: JobHandler = ({ parents }) => {
  if (parents.length === 0) throw new Error('merge: the job has no parents to merge; give it parent_job_ids');
  const merged: JsonObject = {};
  for (const [index, parent] of parents.entries()) {
    for (const [key, value] of Object.entries(parentObjectOutput(parent, index))) {
      // defineProperty, because assigning a "__proto__" key would set the prototype instead.
      Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return { merged };
};

/** Always fails, with payload.message: for trying failure propagation and retries. */
export const fail: JobHandler = ({ payload }) => {
  const message = payload['message'] ?? 'failed on purpose';
  if (typeof message !== 'string') throw new Error(`fail: payload.message must be a string, got ${describeJson(message)}`);
  throw new Error(message);
};

const BUILT_IN_HANDLERS: Readonly<Record<string, JobHandler>> = { echo, sleep, sha256, merge, fail };

/** A registry holding the built-in handlers; user modules are added with loadHandlerModules. */
export function createDefaultRegistry(): HandlerRegistry {
  const registry = new HandlerRegistry();
  registry.registerAll(
    Object.entries(BUILT_IN_HANDLERS).map(([type, handler]) => ({ type, handler, source: 'the built-in handlers' })),
  );
  return registry;
}

function parentObjectOutput(parent: JobHandlerInput['parents'][number], index: number): JsonObject {
  if (parent.output === undefined) {
    throw new Error(`merge: the output of parent_job_ids[${index}] is not kept, only its hash (it was over the output size limit, or the job was recorded with its hash alone), so it cannot be merged`);
  }
  if (!isJsonObject(parent.output)) {
    throw new Error(`merge: the output of parent_job_ids[${index}] is ${describeValue(parent.output)}, not an object`);
  }
  return parent.output;
}

function describeJson(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return describeValue(value);
}
