import { BinaryReader } from '@bufbuild/protobuf/wire';
import { TurnClock } from '../../service/next-turn.js';
import type { JsonCodec } from './rest-routes.js';

/**
 * Bytes of an answer decoded and written as JSON at a time: about a
 * millisecond on a large lineage in the full view (a node with its record
 * is a few hundred bytes), less in the ids view; the event loop turns once
 * TURN_BUDGET_MS is spent. Parts of 128 KiB, with a turn after each, took
 * about 10 ms each: a GetJob beside a whole ancestry's REST full view,
 * which needs a few turns, waited 56 to 60 ms (docs/decisions.md,
 * "Records read as the answer is written"). An answer this size or under
 * is transcoded in one step.
 */
export const JSON_PART_BYTES = 16 * 1024;

/**
 * An encoded message split at its top-level fields into runs of about
 * partBytes each (a field longer than that is a run of its own): each run
 * is itself an encoding of the message, holding those fields only.
 */
export function* messageParts(bytes: Uint8Array, partBytes: number): Generator<Uint8Array> {
  const reader = new BinaryReader(bytes);
  let start = 0;
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    reader.skip(wireType, fieldNo);
    if (reader.pos - start >= partBytes) {
      yield bytes.subarray(start, reader.pos);
      start = reader.pos;
    }
  }
  if (start < bytes.length) yield bytes.subarray(start);
}

/**
 * The proto3 JSON of an encoded answer, the UTF-8 of the text JSON.stringify
 * gives of codec.toJSON(codec.decode(bytes)), made a part at a time
 * (messageParts) with turns of the event loop between parts, so that a
 * large answer of the REST gateway (a whole lineage) never holds the calls
 * beside it for longer than a part takes (docs/decisions.md, "Large lineage
 * answers"). Each part is decoded, mapped and written as bytes at once: a
 * repeated field's elements are kept as the bytes of each part's run of
 * them, and the answer comes as those pieces, in order; neither an object
 * nor a string of the whole answer is ever made. The fields of a message
 * come in the order its encoder writes them, which is the order its toJSON
 * names them in; a field of a message appears once, except repeated fields
 * (joined in order) and maps (their entries merged).
 */
export async function jsonInParts(codec: JsonCodec, bytes: Uint8Array, partBytes = JSON_PART_BYTES): Promise<Buffer[]> {
  if (bytes.length <= partBytes) return [Buffer.from(JSON.stringify(codec.toJSON(codec.decode(bytes))), 'utf8')];
  const fields = new Map<string, { runs: Buffer[] } | { value: unknown }>();
  const clock = new TurnClock();
  for (const part of messageParts(bytes, partBytes)) {
    if (clock.due()) await clock.turn();
    const json = codec.toJSON(codec.decode(part)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(json)) {
      const field = fields.get(name);
      if (Array.isArray(value)) {
        const run = Buffer.from(JSON.stringify(value).slice(1, -1), 'utf8');
        if (!field) fields.set(name, { runs: [run] });
        else if ('runs' in field) field.runs.push(run);
      } else if (field && 'value' in field && isPlainObject(field.value) && isPlainObject(value)) {
        // A map's entries, split between parts; its keys are data, so they are defined rather than assigned.
        for (const [key, entry] of Object.entries(value)) Object.defineProperty(field.value, key, { value: entry, enumerable: true, writable: true, configurable: true });
      } else {
        fields.set(name, { value });
      }
    }
  }
  const text = (value: string): Buffer => Buffer.from(value, 'utf8');
  const pieces: Buffer[] = [text('{')];
  for (const [name, field] of fields) {
    if (pieces.length > 1) pieces.push(text(','));
    pieces.push(text(`${JSON.stringify(name)}:`));
    if ('value' in field) {
      pieces.push(text(JSON.stringify(field.value)));
      continue;
    }
    pieces.push(text('['));
    field.runs
      .filter((run) => run.length > 0)
      .forEach((run, i) => {
        if (i > 0) pieces.push(text(','));
        pieces.push(run);
      });
    pieces.push(text(']'));
  }
  pieces.push(text('}'));
  return pieces;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
