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

/** What the Value scan knows of a message: the fields on the way to a google.protobuf.Value, and whether it is one. */
interface ValuePath {
  /** Field number -> the field's name, whether it repeats, and the message it holds. */
  nested: Map<number, { name: string; repeated: boolean; path: ValuePath }>;
  /** A google.protobuf.Value: one of its fields is its kind. */
  isValue: boolean;
  /** Struct, Value or ListValue: a field path ends at the request's field that holds the JSON. */
  isJson: boolean;
}

const JSON_TYPES = new Set(['google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue']);

/**
 * For each method path whose request can hold a google.protobuf.Value (the
 * JSON of a payload, metadata or output), a check on the wire that every
 * Value has its kind. The decoder turns a Value with none into undefined,
 * and the member of a Struct that holds it is dropped, silently, from what
 * is stored and hashed; such a Value is the caller's error (null is
 * null_value), named by the field that holds it (requests[3].payload).
 */
export function requestValueChecks(descriptorSet: Uint8Array): Map<string, (bytes: Uint8Array) => RequestFieldProblem | undefined> {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
  const paths = new Map<string, ValuePath | null>();
  /** The message's path, or null when it cannot hold a Value. */
  const pathOf = (message: DescMessage): ValuePath | null => {
    if (paths.has(message.typeName)) return paths.get(message.typeName)!;
    const path: ValuePath = { nested: new Map(), isValue: message.typeName === 'google.protobuf.Value', isJson: JSON_TYPES.has(message.typeName) };
    // Set before the fields are walked: Struct, Value and ListValue hold one another.
    paths.set(message.typeName, path);
    for (const field of message.fields) {
      const held = field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message') ? field.message : undefined;
      const heldPath = held && pathOf(held);
      if (heldPath) nested(path, field.number, field.name, field.fieldKind === 'list', heldPath);
      // A map's entries are messages of a key (1) and a value (2).
      else if (field.fieldKind === 'map' && field.mapKind === 'message') {
        const valuePath = pathOf(field.message);
        if (valuePath) nested(path, field.number, field.name, true, { nested: new Map([[2, { name: 'value', repeated: false, path: valuePath }]]), isValue: false, isJson: path.isJson });
      }
    }
    const holdsValue = path.isValue || path.nested.size > 0;
    if (!holdsValue) paths.set(message.typeName, null);
    return holdsValue ? path : null;
  };
  const checks = new Map<string, (bytes: Uint8Array) => RequestFieldProblem | undefined>();
  for (const file of registry.files) {
    for (const service of file.services) {
      for (const method of service.methods) {
        const path = pathOf(method.input);
        if (path) checks.set(`/${service.typeName}/${method.name}`, (bytes) => valueWithoutKind(bytes, path));
      }
    }
  }
  return checks;
}

function nested(path: ValuePath, number: number, name: string, repeated: boolean, held: ValuePath): void {
  path.nested.set(number, { name, repeated, path: held });
}

function valueWithoutKind(bytes: Uint8Array, root: ValuePath): RequestFieldProblem | undefined {
  const reader = new BinaryReader(bytes);
  // The messages being read, innermost last: where each ends, how many fields it had, its field path, and how often each repeated field came.
  const open: Array<{ path: ValuePath; end: number; fields: number; field: string; seen?: Map<number, number> }> = [{ path: root, end: bytes.length, fields: 0, field: '' }];
  try {
    while (open.length > 0) {
      const current = open[open.length - 1]!;
      if (reader.pos >= current.end) {
        open.pop();
        if (current.path.isValue && current.fields === 0) return { field: current.field, description: 'holds a google.protobuf.Value with no kind set (send null as null_value)' };
        continue;
      }
      const [number, wireType] = reader.tag();
      current.fields++;
      const field = current.path.nested.get(number);
      if (wireType !== WireType.LengthDelimited || !field || open.length >= MAX_DEPTH) {
        reader.skip(wireType, number);
        continue;
      }
      let name = current.field;
      if (!current.path.isJson) {
        let index = '';
        if (field.repeated) {
          current.seen ??= new Map();
          const seen = current.seen.get(number) ?? 0;
          current.seen.set(number, seen + 1);
          index = `[${seen}]`;
        }
        name = `${current.field ? `${current.field}.` : ''}${field.name}${index}`;
      }
      const length = reader.uint32();
      open.push({ path: field.path, end: Math.min(reader.pos + length, current.end), fields: 0, field: name });
    }
  } catch {
    // Malformed: the decoder's error is the one to give.
  }
  return undefined;
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
