import { eventJson, eventTail, type ProvenanceEvent } from '../../domain/job-events.js';

/**
 * The JSON of one write's outboxes (an outbox_writes row, schema.ts version
 * 9): an array with the outbox of each record, in the order given. Within an
 * outbox, an event whose JSON differs from the one before only in its first
 * two members (seq and type, as job-events.ts makes every event) is written
 * as [seq, type]: the events one write adds to a record share everything
 * else (a recorded finished job has three), so that is written once.
 */
export function encodeOutboxes(outboxes: ReadonlyArray<readonly ProvenanceEvent[]>): string {
  let text = '[';
  for (let i = 0; i < outboxes.length; i++) text += (i === 0 ? '' : ',') + encodeOutbox(outboxes[i]!);
  return text + ']';
}

function encodeOutbox(events: readonly ProvenanceEvent[]): string {
  let text = '[';
  let previousRest: string | undefined;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const rest = eventTail(event);
    text += (i === 0 ? '' : ',') + (rest !== undefined && rest === previousRest ? `[${event.seq},${JSON.stringify(event.type)}]` : eventJson(event));
    previousRest = rest;
  }
  return text + ']';
}

/** A record's outbox as reads attach it (record-json.ts, DOC_WITH_OUTBOX): its entry of the write row, and the seq up to which it was cleared. */
export interface StoredOutbox {
  after: number;
  events: Array<Record<string, unknown> | [seq: number, type: string]>;
}

/** The events of a stored outbox after its cleared seq, in order, their times as Dates. */
export function decodeOutbox(stored: StoredOutbox): ProvenanceEvent[] {
  const events: ProvenanceEvent[] = [];
  let previous: ProvenanceEvent | undefined;
  for (const item of stored.events) {
    let event: ProvenanceEvent;
    if (Array.isArray(item)) {
      event = { ...previous!, seq: item[0], type: item[1] as ProvenanceEvent['type'] };
    } else {
      event = item as unknown as ProvenanceEvent;
      event.time = new Date(event.time);
    }
    previous = event;
    if (event.seq > stored.after) events.push(event);
  }
  return events;
}
