import { createFileRegistry, fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

/**
 * Decoding costs per field, not per byte: 64 MiB of empty BatchRecordJobs
 * records (two bytes each) took the decoder tens of seconds and the process
 * past its heap limit, and 4 MiB of them 1.6 s. So a request's fields are
 * counted on the wire, nested messages included, before it is decoded: a
 * scan that allocates nothing and stops at the limit.
 */

/** What the scan knows of a message: which of its fields hold messages, and of which kind. */
interface Shape {
  nested: Map<number, Shape>;
}

/** Messages nested deeper than this are not counted further: the decoder refuses them (protobuf's recursion limit is 100). */
const MAX_DEPTH = 100;

/**
 * For each method path of the descriptor set's services, a function that
 * counts the fields of an encoded request, stopping once the count passes
 * `limit` (it then returns limit + 1). Malformed bytes end the count where
 * they start: the decoder that runs next says what is wrong with them.
 */
export function requestFieldCounters(descriptorSet: Uint8Array): Map<string, (bytes: Uint8Array, limit: number) => number> {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
  const shapes = new Map<string, Shape>();
  const shapeOf = (message: DescMessage): Shape => {
    let shape = shapes.get(message.typeName);
    if (shape) return shape;
    shape = { nested: new Map() };
    shapes.set(message.typeName, shape);
    for (const field of message.fields) {
      if (field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message')) shape.nested.set(field.number, shapeOf(field.message));
      // A map's entries are messages of a key (1) and a value (2).
      else if (field.fieldKind === 'map') shape.nested.set(field.number, { nested: field.mapKind === 'message' ? new Map([[2, shapeOf(field.message)]]) : new Map() });
    }
    return shape;
  };
  const counters = new Map<string, (bytes: Uint8Array, limit: number) => number>();
  for (const file of registry.files) {
    for (const service of file.services) {
      for (const method of service.methods) {
        const shape = shapeOf(method.input);
        counters.set(`/${service.typeName}/${method.name}`, (bytes, limit) => countFields(bytes, shape, limit));
      }
    }
  }
  return counters;
}

function countFields(bytes: Uint8Array, root: Shape, limit: number): number {
  const reader = new BinaryReader(bytes);
  // The messages being read, innermost last, each with where it ends.
  const open: Array<{ shape: Shape; end: number }> = [{ shape: root, end: bytes.length }];
  let count = 0;
  try {
    while (open.length > 0) {
      const current = open[open.length - 1]!;
      if (reader.pos >= current.end) {
        open.pop();
        continue;
      }
      const [number, wireType] = reader.tag();
      if (++count > limit) return limit + 1;
      const nested = current.shape.nested.get(number);
      if (wireType === WireType.LengthDelimited && nested && open.length < MAX_DEPTH) {
        const length = reader.uint32();
        open.push({ shape: nested, end: Math.min(reader.pos + length, current.end) });
      } else {
        reader.skip(wireType, number);
      }
    }
  } catch {
    // Malformed: the decoder's error is the one to give.
  }
  return count;
}

/** The range of a google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
const MIN_TIMESTAMP_SECONDS = -62_135_596_800n;
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n;
const MAX_TIMESTAMP_NANOS = 999_999_999;

/** What is wrong with a field of a request, as a field violation. */
export interface RequestFieldProblem {
  field: string;
  description: string;
}

/**
 * For each method path whose request has top-level google.protobuf.Timestamp
 * fields, a check of those fields on the wire: the decoder turns a Timestamp
 * into a Date, which would silently carry nanos out of range into the
 * seconds; such a Timestamp, or one out of its range, is the caller's error
 * (the field's violation), not a time.
 */
export function requestTimestampChecks(descriptorSet: Uint8Array): Map<string, (bytes: Uint8Array) => RequestFieldProblem | undefined> {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
  const checks = new Map<string, (bytes: Uint8Array) => RequestFieldProblem | undefined>();
  for (const file of registry.files) {
    for (const service of file.services) {
      for (const method of service.methods) {
        const timestamps = new Map(
          method.input.fields
            .filter((field) => field.fieldKind === 'message' && field.message.typeName === 'google.protobuf.Timestamp')
            .map((field) => [field.number, field.name]),
        );
        if (timestamps.size > 0) checks.set(`/${service.typeName}/${method.name}`, (bytes) => invalidTimestamp(bytes, timestamps));
      }
    }
  }
  return checks;
}

function invalidTimestamp(bytes: Uint8Array, timestamps: ReadonlyMap<number, string>): RequestFieldProblem | undefined {
  const reader = new BinaryReader(bytes);
  try {
    while (reader.pos < bytes.length) {
      const [number, wireType] = reader.tag();
      const field = timestamps.get(number);
      if (field === undefined || wireType !== WireType.LengthDelimited) {
        reader.skip(wireType, number);
        continue;
      }
      const end = reader.uint32() + reader.pos;
      let seconds = 0n;
      let nanos = 0;
      while (reader.pos < end) {
        const [part, partType] = reader.tag();
        if (part === 1 && partType === WireType.Varint) seconds = BigInt(reader.int64());
        else if (part === 2 && partType === WireType.Varint) nanos = reader.int32();
        else reader.skip(partType, part);
      }
      if (nanos < 0 || nanos > MAX_TIMESTAMP_NANOS) return { field, description: `nanos must be from 0 to ${MAX_TIMESTAMP_NANOS}, not ${nanos}` };
      if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS) {
        return { field, description: 'must be a valid time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z' };
      }
    }
  } catch {
    // Malformed: the decoder's error is the one to give.
  }
  return undefined;
}
