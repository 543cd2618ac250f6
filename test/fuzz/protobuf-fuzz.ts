import { readFileSync } from 'node:fs';
import { createFileRegistry, fromBinary, ScalarType, type DescEnum, type DescField, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET_PATH } from '../../src/platform/generated-documents.js';
import { elementCount, fuzzDouble, fuzzInteger, fuzzString, identifier, odd, randomText, type FuzzContext } from './fuzz-values.js';

/** The descriptor set the build copies next to the compiled server: the service as it is served, every method included. */
export const SERVICE_NAME = 'provenance.v1.ProvenanceService';

export interface ServiceSchema {
  service: DescService;
  unary: readonly DescMethod[];
  serverStreaming: readonly DescMethod[];
  message(typeName: string): DescMessage;
}

/** The service and its messages, read from the descriptor set, so that a method added to the proto is fuzzed without a change here. */
export function loadServiceSchema(): ServiceSchema {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR_SET_PATH)));
  const service = registry.getService(SERVICE_NAME);
  if (!service) throw new Error(`${DESCRIPTOR_SET_PATH} has no ${SERVICE_NAME}`);
  return {
    service,
    unary: service.methods.filter((method) => method.methodKind === 'unary'),
    serverStreaming: service.methods.filter((method) => method.methodKind === 'server_streaming'),
    message(typeName) {
      const found = registry.getMessage(typeName);
      if (!found) throw new Error(`${DESCRIPTOR_SET_PATH} has no message ${typeName}`);
      return found;
    },
  };
}

export function grpcPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** Fields most requests that have them must set: a request meant to be right but in a place or two always has them. */
const USUALLY_REQUIRED = new Set(['type', 'status', 'job_id']);
const STRUCT_TYPES = new Set(['google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue']);
/** JSON nesting depths around the documented bound of 64, protobuf's decoder limit of 100 message levels (about 33 JSON levels), and far past both. */
const DEEP_LEVELS = [20, 33, 34, 63, 64, 65, 100, 1_000];

/**
 * A structurally valid encoding of a message of that type with random
 * field values: any field may be present or absent, repeated fields and
 * maps get few or many elements, packed or not, a oneof usually one member
 * (sometimes all: the last one wins), and now and then a field number the
 * type does not have. Struct and Value fields sometimes nest deep.
 */
export function randomMessageBytes(context: FuzzContext, type: DescMessage): Uint8Array {
  const writer = new BinaryWriter();
  writeMessage(context, writer, type, 0);
  return writer.finish();
}

/**
 * The encoding of one field of the type, chosen at random, with a random
 * value. Appended to a valid request it makes one that is right but in that
 * field: a scalar replaces the request's value (the last one wins), a
 * repeated field or map adds elements, a message merges into the request's.
 */
export function randomFieldBytes(context: FuzzContext, type: DescMessage): { bytes: Uint8Array; field: string } {
  const field = context.random.pick(type.fields);
  const writer = new BinaryWriter();
  writeField(context, writer, field, 0);
  return { bytes: writer.finish(), field: field.name };
}

function writeMessage(context: FuzzContext, writer: BinaryWriter, type: DescMessage, depth: number): void {
  const { random } = context;
  const allOneofMembers = random.chance(0.05);
  const chosen = new Set(type.oneofs.map((oneof) => (random.chance(0.85) ? random.pick(oneof.fields) : undefined)));
  const presence = depth === 0 ? 0.7 : Math.max(0.1, 0.6 - depth * 0.1);
  for (const field of type.fields) {
    if (context.budget.bytes <= 0) break;
    if (field.oneof ? !((allOneofMembers && odd(context)) || chosen.has(field)) : !(random.chance(presence) || (depth === 0 && context.oddness < 1 && USUALLY_REQUIRED.has(field.name)))) continue;
    writeField(context, writer, field, depth);
  }
  if (odd(context) && random.chance(0.03)) {
    // A field number the type does not have: decoders must skip it.
    writer.tag(random.int(1_000, 536_870_911), WireType.LengthDelimited).bytes(Buffer.from(randomText(context, random.int(0, 20))));
  }
}

function writeField(context: FuzzContext, writer: BinaryWriter, field: DescField, depth: number): void {
  const { random } = context;
  switch (field.fieldKind) {
    case 'scalar':
      writeScalar(context, writer, field.number, field.scalar, field.name);
      return;
    case 'enum':
      writer.tag(field.number, WireType.Varint).raw(varint(enumNumber(context, field.enum)));
      return;
    case 'message':
      writeSubMessage(context, writer, field.number, field.message, depth);
      return;
    case 'list': {
      const count = elementCount(context);
      if (field.listKind === 'message') {
        for (let i = 0; i < count && context.budget.bytes > 0; i++) writeSubMessage(context, writer, field.number, field.message, depth);
      } else if (field.listKind === 'scalar' && (field.scalar === ScalarType.STRING || field.scalar === ScalarType.BYTES)) {
        for (let i = 0; i < count && context.budget.bytes > 0; i++) writeScalar(context, writer, field.number, field.scalar, field.name);
      } else if (random.chance(0.5)) {
        // Packed, as proto3 encoders write numbers, or one tag per element: a decoder takes both.
        writer.tag(field.number, WireType.LengthDelimited).fork();
        for (let i = 0; i < count; i++) writeScalarValue(context, writer, field.listKind === 'enum' ? ScalarType.INT32 : field.scalar, field.name, field.listKind === 'enum' ? field.enum : undefined);
        writer.join();
      } else {
        for (let i = 0; i < count; i++) {
          if (field.listKind === 'enum') writer.tag(field.number, WireType.Varint).raw(varint(enumNumber(context, field.enum)));
          else writeScalar(context, writer, field.number, field.scalar, field.name);
        }
      }
      context.budget.bytes -= count * 2;
      return;
    }
    case 'map': {
      const count = elementCount(context);
      for (let i = 0; i < count && context.budget.bytes > 0; i++) {
        writer.tag(field.number, WireType.LengthDelimited).fork();
        if (random.chance(0.97)) writeScalar(context, writer, 1, field.mapKey, `${field.name}_key`);
        if (random.chance(0.97)) {
          if (field.mapKind === 'message') writeSubMessage(context, writer, 2, field.message, depth);
          else if (field.mapKind === 'enum') writer.tag(2, WireType.Varint).raw(varint(enumNumber(context, field.enum)));
          else writeScalar(context, writer, 2, field.scalar, `${field.name}_value`);
        }
        writer.join();
      }
      return;
    }
  }
}

function writeSubMessage(context: FuzzContext, writer: BinaryWriter, number: number, type: DescMessage, depth: number): void {
  writer.tag(number, WireType.LengthDelimited).fork();
  if (type.typeName === 'google.protobuf.Timestamp' && !odd(context)) writeFittingTimestamp(context, writer);
  else if (STRUCT_TYPES.has(type.typeName) && odd(context) && context.random.chance(0.04)) writeDeepStruct(context, writer, type.typeName, context.random.pick(DEEP_LEVELS));
  else if (depth < 6) writeMessage(context, writer, type, depth + 1);
  writer.join();
  context.budget.bytes -= 4;
}

/** A Timestamp's fields for a moment in the last day, with nanoseconds in range. */
function writeFittingTimestamp(context: FuzzContext, writer: BinaryWriter): void {
  const seconds = BigInt(Math.floor(Date.now() / 1000) - context.random.int(0, 86_400));
  writer.tag(1, WireType.Varint).raw(varint(seconds)).tag(2, WireType.Varint).raw(varint(BigInt(context.random.int(0, 999_999_999))));
}

/** The fields of a Struct, Value or ListValue holding JSON nested levels deep: {"a": {"a": … 1}} through Value.struct_value or Value.list_value. */
function writeDeepStruct(context: FuzzContext, writer: BinaryWriter, typeName: string, levels: number): void {
  // Value: number_value = 2, struct_value = 5, list_value = 6. Struct: fields = 1 (map entry: key 1, value 2). ListValue: values = 1.
  let value: Uint8Array = new BinaryWriter().tag(2, WireType.Bit64).double(1).finish();
  for (let level = 0; level < levels; level++) {
    value = context.random.chance(0.7)
      ? new BinaryWriter().tag(5, WireType.LengthDelimited).bytes(structOf(value)).finish()
      : new BinaryWriter().tag(6, WireType.LengthDelimited).bytes(new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(value).finish()).finish();
  }
  if (typeName === 'google.protobuf.Value') writer.raw(value);
  else if (typeName === 'google.protobuf.Struct') writer.raw(structOf(value).slice());
  else writer.tag(1, WireType.LengthDelimited).bytes(value);
  context.budget.bytes -= levels * 8;
}

function structOf(value: Uint8Array): Uint8Array {
  const entry = new BinaryWriter().tag(1, WireType.LengthDelimited).string('a').tag(2, WireType.LengthDelimited).bytes(value).finish();
  return new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(entry).finish();
}

function writeScalar(context: FuzzContext, writer: BinaryWriter, number: number, type: ScalarType, fieldName: string): void {
  writer.tag(number, wireTypeOf(type));
  writeScalarValue(context, writer, type, fieldName);
}

function writeScalarValue(context: FuzzContext, writer: BinaryWriter, type: ScalarType, fieldName: string, enumType?: DescEnum): void {
  const { random } = context;
  switch (type) {
    case ScalarType.STRING:
      // Now and then bytes that are not UTF-8, which a string field must not hold.
      if (odd(context) && random.chance(0.03)) writer.bytes(Buffer.from([0xff, 0xfe, 0xc0, 0x80, ...Buffer.from(identifier(random))]));
      else writer.string(fuzzString(context, fieldName));
      return;
    case ScalarType.BYTES:
      writer.bytes(Buffer.from(fuzzString(context, fieldName)));
      return;
    case ScalarType.BOOL:
      // A bool is any varint on the wire; 2 and 2^64-1 are not canonical but decode as true.
      writer.raw(varint(odd(context) ? random.pick([0n, 1n, 2n, 2n ** 64n - 1n]) : random.pick([0n, 1n])));
      return;
    case ScalarType.DOUBLE:
      writer.double(fuzzDouble(context));
      return;
    case ScalarType.FLOAT:
      writer.float(Math.fround(fuzzDouble(context)));
      return;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      writer.raw(Buffer.from(Uint32Array.of(Number(BigInt.asUintN(32, fuzzInteger(context)))).buffer));
      return;
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      writer.raw(Buffer.from(BigUint64Array.of(BigInt.asUintN(64, fuzzInteger(context))).buffer));
      return;
    case ScalarType.SINT32:
    case ScalarType.SINT64: {
      const value = BigInt.asIntN(64, fuzzInteger(context));
      writer.raw(varint((value << 1n) ^ (value >> 63n)));
      return;
    }
    default:
      // int32, int64, uint32, uint64 and enums: any varint, including values past the declared width (decoders truncate them).
      writer.raw(varint(enumType ? enumNumber(context, enumType) : fuzzInteger(context)));
  }
}

function wireTypeOf(type: ScalarType): WireType {
  switch (type) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

/** A value the enum has other than UNSPECIFIED, when the value is to fit; else any it has, or one it does not (proto3 keeps unknown enum values). */
function enumNumber(context: FuzzContext, type: DescEnum): bigint {
  const { random } = context;
  const named = type.values.filter((value) => value.number !== 0);
  if (!odd(context)) return BigInt(random.pick(named.length > 0 ? named : type.values).number);
  if (random.chance(0.8)) return BigInt(random.pick(type.values).number);
  return random.pick([-1n, BigInt(type.values.length), 99n, 2n ** 31n - 1n, -(2n ** 31n)]);
}

/** The varint encoding of the value's 64 low bits, as a negative int64 is written (ten bytes). */
export function varint(value: bigint): Uint8Array {
  let rest = BigInt.asUintN(64, value);
  const bytes: number[] = [];
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (rest !== 0n);
  return Uint8Array.from(bytes);
}

/**
 * A mutation of an encoding, as a broken client or a flipped bit in transit
 * makes one: cut short, bits flipped, bytes overwritten, inserted, dropped,
 * repeated, or a length prefix that announces more than follows.
 */
export function mutate(context: FuzzContext, bytes: Uint8Array): { bytes: Buffer; how: string } {
  const { random } = context;
  const input = Buffer.from(bytes);
  const at = () => random.int(0, input.length);
  switch (random.int(0, 6)) {
    case 0: {
      const end = input.length > 0 ? random.int(0, input.length - 1) : 0;
      return { bytes: input.subarray(0, end), how: `cut at ${end} of ${input.length}` };
    }
    case 1: {
      const flips = random.int(1, 8);
      for (let i = 0; i < flips && input.length > 0; i++) input[random.int(0, input.length - 1)]! ^= 1 << random.int(0, 7);
      return { bytes: input, how: `${flips} bits flipped` };
    }
    case 2: {
      for (let i = random.int(1, 8); i > 0 && input.length > 0; i--) input[random.int(0, input.length - 1)] = random.pick([0x00, 0xff, 0x80, 0x7f, random.int(0, 255)]);
      return { bytes: input, how: 'bytes overwritten' };
    }
    case 3: {
      const where = at();
      return { bytes: Buffer.concat([input.subarray(0, where), randomBytes(context, random.int(1, 32)), input.subarray(where)]), how: `bytes inserted at ${where}` };
    }
    case 4: {
      const from = at();
      const to = random.int(from, input.length);
      return { bytes: Buffer.concat([input.subarray(0, from), input.subarray(to)]), how: `bytes ${from}..${to} dropped` };
    }
    case 5: {
      const from = at();
      const to = random.int(from, Math.min(input.length, from + 4_096));
      const times = random.int(2, 50);
      return { bytes: Buffer.concat([input.subarray(0, to), ...Array.from({ length: times }, () => input.subarray(from, to)), input.subarray(to)]), how: `bytes ${from}..${to} repeated ${times} times` };
    }
    default: {
      // A length-delimited field announcing up to 2^32 bytes, with few following.
      const where = at();
      const announced = random.pick([2n ** 32n - 1n, 2n ** 31n, 2n ** 64n - 1n, BigInt(random.int(input.length, input.length + 1_000))]);
      const prefix = Buffer.concat([Buffer.from([random.pick([0x0a, 0x12, 0x1a, 0x22, 0x32])]), varint(announced)]);
      return { bytes: Buffer.concat([input.subarray(0, where), prefix, input.subarray(where)]), how: `length prefix of ${announced} inserted at ${where}` };
    }
  }
}

export function randomBytes(context: FuzzContext, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = context.random.int(0, 255);
  return bytes;
}

const TIMESTAMPS = ['2026-01-01T00:00:00Z', '2026-02-30T00:00:00Z', '1970-01-01T00:00:00.123456789Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z', '10000-01-01T00:00:00Z', '2026-01-01T00:00:00+01:00', '2026-01-01', 'yesterday', ''];
const DURATIONS = ['0s', '1s', '1.5s', '-1s', '315576000000s', '315576000001s', '1.0000000001s', '1m', 'abc', ''];
const ODD_KEYS = ['__proto__', 'constructor', 'toString', 'unknownField', '', '@type'];

/**
 * A proto3 JSON object for a message of that type, as a REST client sends
 * it: fields by their JSON or proto name with values of the right type,
 * mostly, else of a wrong one; unknown and prototype-named keys (own
 * properties, as JSON.parse makes them); Struct fields that nest deep.
 */
export function randomJsonMessage(context: FuzzContext, type: DescMessage, depth = 0): Record<string, unknown> {
  const { random } = context;
  const object: Record<string, unknown> = {};
  const chosen = new Set(type.oneofs.map((oneof) => random.pick(oneof.fields)));
  const presence = depth === 0 ? 0.7 : Math.max(0.1, 0.6 - depth * 0.1);
  for (const field of type.fields) {
    if (context.budget.bytes <= 0) break;
    if (field.oneof ? !chosen.has(field) : !random.chance(presence)) continue;
    setOwn(object, random.chance(0.85) ? field.jsonName : field.name, odd(context) && random.chance(0.05) ? wrongJsonValue(context) : jsonFieldValue(context, field, depth));
  }
  if (odd(context) && random.chance(0.05)) setOwn(object, random.pick(ODD_KEYS), wrongJsonValue(context));
  return object;
}

function jsonFieldValue(context: FuzzContext, field: DescField, depth: number): unknown {
  switch (field.fieldKind) {
    case 'scalar':
      return jsonScalar(context, field.scalar, field.name);
    case 'enum':
      return jsonEnum(context, field.enum);
    case 'message':
      return jsonMessageValue(context, field.message, depth);
    case 'list':
      return Array.from({ length: elementCount(context) }, () =>
        field.listKind === 'message' ? jsonMessageValue(context, field.message, depth) : field.listKind === 'enum' ? jsonEnum(context, field.enum) : jsonScalar(context, field.scalar, field.name),
      );
    case 'map': {
      const object: Record<string, unknown> = {};
      for (let i = elementCount(context); i > 0 && context.budget.bytes > 0; i--) {
        const value = field.mapKind === 'message' ? jsonMessageValue(context, field.message, depth) : field.mapKind === 'enum' ? jsonEnum(context, field.enum) : jsonScalar(context, field.scalar, `${field.name}_value`);
        setOwn(object, String(jsonScalar(context, field.mapKey, `${field.name}_key`)), value);
      }
      return object;
    }
  }
}

function jsonMessageValue(context: FuzzContext, type: DescMessage, depth: number): unknown {
  const { random } = context;
  switch (type.typeName) {
    case 'google.protobuf.Timestamp':
      return odd(context) ? random.pick(TIMESTAMPS) : new Date(Date.now() - random.int(0, 86_400_000)).toISOString();
    case 'google.protobuf.Duration':
      return odd(context) ? random.pick(DURATIONS) : `${random.int(0, 3600)}s`;
    case 'google.protobuf.Struct':
      return odd(context) && random.chance(0.04) ? deepJson(random.pick(DEEP_LEVELS), 'object') : randomJsonObject(context, depth);
    case 'google.protobuf.Value':
      return odd(context) && random.chance(0.04) ? deepJson(random.pick(DEEP_LEVELS), random.pick(['object', 'array'] as const)) : randomJsonValue(context, depth);
    case 'google.protobuf.ListValue':
      return Array.from({ length: random.int(0, 5) }, () => randomJsonValue(context, depth + 1));
    default:
      return depth < 6 ? randomJsonMessage(context, type, depth + 1) : {};
  }
}

function jsonScalar(context: FuzzContext, type: ScalarType, fieldName: string): unknown {
  const { random } = context;
  switch (type) {
    case ScalarType.STRING:
      return fuzzString(context, fieldName);
    case ScalarType.BYTES:
      return Buffer.from(fuzzString(context, fieldName)).toString(random.chance(0.5) ? 'base64' : 'base64url');
    case ScalarType.BOOL:
      return odd(context) ? random.pick([true, false, 'true', 'false', 1, 0, 'maybe']) : random.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      const value = fuzzDouble(context);
      return Number.isFinite(value) ? value : random.pick(['NaN', 'Infinity', '-Infinity', String(value)]);
    }
    default: {
      // Integers: as numbers or strings (both proto3 JSON), fractions and exponents, values past 32 and 53 bits.
      const value = fuzzInteger(context);
      if (!odd(context)) return Number(value);
      return random.pick<() => unknown>([() => Number(value), () => String(value), () => Number(value) + 0.5, () => `${value}e2`, () => 1e20])();
    }
  }
}

function jsonEnum(context: FuzzContext, type: DescEnum): unknown {
  const { random } = context;
  const value = random.pick(type.values);
  if (!odd(context)) return value.name;
  return random.pick([value.name, value.name, value.number, value.name.toLowerCase(), value.name.slice(value.name.indexOf('_') + 1), 'NOT_A_VALUE', 99, -1]);
}

function wrongJsonValue(context: FuzzContext): unknown {
  const { random } = context;
  return random.pick<() => unknown>([() => null, () => true, () => 12, () => -0.5, () => 'text', () => [], () => [1, 'a'], () => ({}), () => ({ nested: { a: 1 } }), () => randomText(context, random.int(0, 30))])();
}

function randomJsonValue(context: FuzzContext, depth: number): unknown {
  const { random } = context;
  const roll = random.next();
  if (depth > 5 || roll < 0.5) return random.pick<() => unknown>([() => null, () => random.chance(0.5), () => fuzzDouble(context), () => fuzzString(context, 'value')])();
  if (roll < 0.8) return randomJsonObject(context, depth + 1);
  return Array.from({ length: random.int(0, 5) }, () => randomJsonValue(context, depth + 1));
}

function randomJsonObject(context: FuzzContext, depth: number): Record<string, unknown> {
  const { random } = context;
  const object: Record<string, unknown> = {};
  for (let i = odd(context) && random.chance(0.02) ? random.int(100, 3_000) : random.int(0, 6); i > 0 && context.budget.bytes > 0; i--) {
    setOwn(object, odd(context) && random.chance(0.1) ? random.pick(ODD_KEYS) : fuzzString(context, 'key'), randomJsonValue(context, depth + 1));
  }
  return object;
}

function deepJson(levels: number, kind: 'object' | 'array'): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = kind === 'object' ? { a: value } : [value];
  return value;
}

/** Sets an own, enumerable property, even one named __proto__, which plain assignment would take as the prototype. */
function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
