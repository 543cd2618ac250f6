import type { Provider } from '../job.js';
import type { JsonObject, JsonValue } from '../json.js';

/**
 * The code that runs a submitted job, chosen by job type and, optionally,
 * provider. Implementation: handlers/ (built-in handlers and the
 * modules named in PROVENANCE_HANDLERS).
 */
export interface JobHandlerInput {
  jobId: string;
  type: string;
  payload: JsonObject;
  provider: Provider;
  /** The parents' results, in the job's parent order. output is absent when it was too large to keep. */
  parents: Array<{ jobId: string; outputHash: string; output?: JsonValue }>;
  attempt: number;
  /** Aborted when the job is cancelled, times out, or the worker shuts down: stop and throw. */
  signal: AbortSignal;
}

/** Returns the job's output: any JSON value. A thrown error fails the attempt. */
export type JobHandler = (input: JobHandlerInput) => Promise<JsonValue> | JsonValue;

export interface HandlerCatalog {
  /** The handler for (type, providerId), else the one for type alone. */
  find(type: string, providerId: string): JobHandler | undefined;
  /** Every registered type, sorted. */
  types(): string[];
}
