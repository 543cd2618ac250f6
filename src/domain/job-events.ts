import type { JobError, JobRecord, JobStatus } from './job.js';

/**
 * Provenance events. Each write of a record that changes its lifecycle adds
 * the events it means to the record itself (JobRecord.pendingEvents), in the
 * same write: the record is the outbox. After the write, the events are
 * appended to the event log and removed from the record; whatever is left
 * (the log was down, the process died) is appended by the next write of that
 * job or by the relay sweep. Each event of a job has the next number of the
 * job's sequence, so the log can skip one appended before and keep each job's
 * events in order.
 */

export const EVENT_TYPES = [
  'compute.job.submitted',
  'compute.job.rerun',
  'job.provenance.created',
  'compute.job.started',
  'compute.job.completed',
  'compute.job.cached',
  'compute.job.failed',
  'compute.job.cancelled',
  'compute.job.enqueue_failed',
  'job.provenance.completed',
  'cache.invalidated',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface ProvenanceEvent {
  /** The job's sequence number of this event: 1, 2, 3, … */
  seq: number;
  type: EventType;
  jobId: string;
  jobType: string;
  status: JobStatus;
  definitionHash: string;
  inputHash: string;
  outputHash?: string;
  tenant: string;
  labels: Record<string, string>;
  readers: string[];
  parentIds: string[];
  time: Date;
  rerunOfJobId?: string;
  cachedFromJobId?: string;
  error?: JobError;
  /** cache.invalidated: the jobs made STALE (the job itself, then its descendants); in the outbox only (publishedEvent). */
  invalidatedJobIds?: string[];
  /** cache.invalidated: how many jobs it made STALE; what the log and subscribers get of invalidatedJobIds. */
  affectedCount?: number;
}

/** An event as the log holds it: with its position, the cursor subscribers resume after. */
export interface LoggedEvent extends ProvenanceEvent {
  cursor: string;
}

/** The events that moving a job from before (undefined: it did not exist) to after means, in order. */
export function lifecycleEvents(before: JobRecord | undefined, after: JobRecord): EventType[] {
  const types: EventType[] = [];
  if (!before) {
    if (after.origin === 'SUBMITTED') types.push('compute.job.submitted');
    if (after.rerunOfJobId) types.push('compute.job.rerun');
    types.push('job.provenance.created');
  }
  if (before?.status === after.status) {
    // Claimed again (a delivery again after its worker stopped): a new attempt starts, and subscribers hear of it as of the first.
    if (after.status === 'RUNNING' && after.attempt > before.attempt) types.push('compute.job.started');
    return types;
  }
  switch (after.status) {
    case 'RUNNING':
      types.push('compute.job.started');
      break;
    case 'SUCCEEDED':
      types.push(after.result?.cached ? 'compute.job.cached' : 'compute.job.completed', 'job.provenance.completed');
      break;
    case 'FAILED':
      types.push('compute.job.failed', 'job.provenance.completed');
      break;
    case 'CANCELLED':
      types.push('compute.job.cancelled', 'job.provenance.completed');
      break;
  }
  return types;
}

/** after, with the events of the transition from before added to its outbox. */
export function withLifecycleEvents(before: JobRecord | undefined, after: JobRecord, now: Date): JobRecord {
  return withEvents(after, lifecycleEvents(before, after), now);
}

/** record, with events of these types added to its outbox, numbered after its last event. */
export function withEvents(record: JobRecord, types: readonly EventType[], now: Date, extra: Partial<ProvenanceEvent> = {}): JobRecord {
  if (types.length === 0) return record;
  let seq = record.eventSeq ?? 0;
  const added = types.map((type) => eventOf(record, type, ++seq, now, extra));
  if (added.length > 1) encodeTogether(added);
  return { ...record, eventSeq: seq, pendingEvents: [...(record.pendingEvents ?? []), ...added] };
}

function eventOf(record: JobRecord, type: EventType, seq: number, time: Date, extra: Partial<ProvenanceEvent>): ProvenanceEvent {
  const event: ProvenanceEvent = {
    seq,
    type,
    jobId: record.jobId,
    jobType: record.type,
    status: record.status,
    definitionHash: record.definitionHash,
    inputHash: record.inputHash,
    tenant: record.tenant,
    labels: record.labels,
    readers: record.readers,
    parentIds: record.parentIds,
    time,
    ...extra,
  };
  if (record.result) event.outputHash = record.result.outputHash;
  if (record.result?.cachedFromJobId) event.cachedFromJobId = record.result.cachedFromJobId;
  if (record.rerunOfJobId) event.rerunOfJobId = record.rerunOfJobId;
  if (record.error) event.error = record.error;
  return event;
}

/** An event's JSON, and for events encoded together (encodeTogether) the text after their first two members, one string for them all. */
interface EncodedEvent {
  json: string;
  sharedTail?: string;
}

/**
 * Where an event keeps its EncodedEvent: a property of its own, keyed by a
 * symbol and not enumerable, so that JSON, spreads, structured clones and
 * deep equality leave it out. A WeakMap held one entry per event before,
 * three per recorded job, whose upkeep is the collector's: a
 * microbenchmark of newRecordedJob in batches of 1,000 spent 26.6 µs per
 * record with it and 20.4 without (five alternating pairs).
 */
const ENCODED = Symbol('encoded event');

type WithEncoding = ProvenanceEvent & { [ENCODED]?: EncodedEvent };

function encodedOf(event: ProvenanceEvent): EncodedEvent | undefined {
  return (event as WithEncoding)[ENCODED];
}

function keepEncoded(event: ProvenanceEvent, encoded: EncodedEvent): EncodedEvent {
  Object.defineProperty(event, ENCODED, { value: encoded, writable: true });
  return encoded;
}

/**
 * The JSON of an event (its time as an ISO string), made once per event
 * object: the store's outbox and the event log both hold this text, and an
 * event is written to both. Events are never changed after they are made.
 */
export function eventJson(event: ProvenanceEvent): string {
  return (encodedOf(event) ?? keepEncoded(event, { json: JSON.stringify(event) })).json;
}

/**
 * The events one write adds differ only in seq and type, the first two
 * members of each (eventOf): one JSON.stringify serves them all, with those
 * two members written for each (a recorded finished job has three events).
 */
function encodeTogether(events: readonly ProvenanceEvent[]): void {
  const first = events[0]!;
  const json = JSON.stringify(first);
  const head = eventHead(first);
  if (!json.startsWith(head)) return;
  const sharedTail = json.slice(head.length);
  for (const event of events) keepEncoded(event, { json: `${eventHead(event)}${sharedTail}`, sharedTail });
}

/**
 * The JSON of an event after its seq and type members (from its first
 * comma on); undefined if its JSON does not start with them. Events
 * encoded together have the same tail, as one string: comparing them
 * compares two references.
 */
export function eventTail(event: ProvenanceEvent): string | undefined {
  const json = eventJson(event);
  const { sharedTail } = encodedOf(event)!;
  if (sharedTail !== undefined) return sharedTail;
  const head = eventHead(event);
  return json.startsWith(head) ? json.slice(head.length) : undefined;
}

function eventHead(event: ProvenanceEvent): string {
  return `{"seq":${event.seq},"type":${JSON.stringify(event.type)},`;
}

/**
 * The event as the log holds it: a cache.invalidated event without the ids
 * of the jobs it made STALE, which subscribers never get (affectedCount
 * counts them). They stay in the outbox, where the relay reads them to
 * complete an invalidation a crash cut short; in the log, an invalidation
 * of a million jobs would be tens of megabytes in one entry, read and
 * parsed by every server's hub.
 */
export function publishedEvent(event: ProvenanceEvent): ProvenanceEvent {
  if (event.invalidatedJobIds === undefined) return event;
  const { invalidatedJobIds: _outboxOnly, ...published } = event;
  return published;
}

/** Cursors are Redis-stream-like "<milliseconds>-<sequence>" positions; this orders them. */
export function compareCursors(a: string, b: string): number {
  const [aMs, aSeq] = parseCursor(a)!;
  const [bMs, bSeq] = parseCursor(b)!;
  return aMs < bMs ? -1 : aMs > bMs ? 1 : aSeq < bSeq ? -1 : aSeq > bSeq ? 1 : 0;
}

/** The largest part of a cursor: Redis stream ids are two unsigned 64-bit numbers. */
export const MAX_CURSOR_PART = 2n ** 64n - 1n;

/** A cursor's two parts; undefined for anything else, a part over MAX_CURSOR_PART included (no stream has such a position). */
export function parseCursor(cursor: string): [bigint, bigint] | undefined {
  const match = /^(\d{1,20})-(\d{1,20})$/.exec(cursor);
  if (!match) return undefined;
  const parts: [bigint, bigint] = [BigInt(match[1]!), BigInt(match[2]!)];
  return parts[0] <= MAX_CURSOR_PART && parts[1] <= MAX_CURSOR_PART ? parts : undefined;
}
