import type { FieldViolation } from '../../domain/errors.js';
import { MAX_JSON_DEPTH } from '../../domain/validation.js';
import type { DescriptorProto, FieldDescriptorProto, FileDescriptorProto } from '@provenance/client/gen/google/protobuf/descriptor';

/** FieldDescriptorProto.Type values, as descriptor.proto numbers them. */
const TYPE = { DOUBLE: 1, FLOAT: 2, INT64: 3, UINT64: 4, INT32: 5, FIXED64: 6, FIXED32: 7, BOOL: 8, STRING: 9, MESSAGE: 11, BYTES: 12, UINT32: 13, ENUM: 14, SFIXED32: 15, SFIXED64: 16, SINT32: 17, SINT64: 18 } as const;
const LABEL_REPEATED = 3;

/** The range of each integer type; 64-bit ones as bigints, since the JSON mapping writes them as strings. */
const INTEGER_RANGES = new Map<number, { name: string; min: bigint; max: bigint }>([
  [TYPE.INT32, { name: 'an int32', min: -(2n ** 31n), max: 2n ** 31n - 1n }],
  [TYPE.SINT32, { name: 'an int32', min: -(2n ** 31n), max: 2n ** 31n - 1n }],
  [TYPE.SFIXED32, { name: 'an int32', min: -(2n ** 31n), max: 2n ** 31n - 1n }],
  [TYPE.UINT32, { name: 'a uint32', min: 0n, max: 2n ** 32n - 1n }],
  [TYPE.FIXED32, { name: 'a uint32', min: 0n, max: 2n ** 32n - 1n }],
  [TYPE.INT64, { name: 'an int64', min: -(2n ** 63n), max: 2n ** 63n - 1n }],
  [TYPE.SINT64, { name: 'an int64', min: -(2n ** 63n), max: 2n ** 63n - 1n }],
  [TYPE.SFIXED64, { name: 'an int64', min: -(2n ** 63n), max: 2n ** 63n - 1n }],
  [TYPE.UINT64, { name: 'a uint64', min: 0n, max: 2n ** 64n - 1n }],
  [TYPE.FIXED64, { name: 'a uint64', min: 0n, max: 2n ** 64n - 1n }],
]);

/** RFC 3339 with a 'T', seconds, up to nine fraction digits and a zone, as the JSON mapping writes a Timestamp. */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
const DURATION = /^-?\d{1,12}(?:\.\d{1,9})?s$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

interface Field {
  name: string;
  jsonName: string;
  type: number;
  typeName: string;
  repeated: boolean;
}

interface Message {
  /** By proto name and by JSON name. */
  fields: Map<string, Field>;
  /** A map entry's value field, when the message is one (map<K, V> fields are repeated entries in descriptors). */
  mapValue: Field | undefined;
}

/**
 * The proto3 JSON mapping of request messages, checked before ts-proto's
 * fromJSON sees them: fromJSON turns whatever it gets into something (a
 * number for an int32 even when it is 1e20, an Invalid Date for a bad
 * Timestamp, an object for an array), and the encoder then fails on it, far
 * from the caller's field. This says which field is wrong and why, as
 * grpc-gateway's protojson would: unknown fields, wrong JSON types, integers
 * out of their type's range, unknown enum values, Timestamps that are not
 * RFC 3339, a field given under both its names. (Two members of one oneof
 * are not caught: the decoded descriptors do not say which fields belong to
 * a oneof; fromJSON keeps the first, as a binary message keeps the last.)
 */
export class JsonMapping {
  private readonly messages = new Map<string, Message>();
  private readonly enums = new Map<string, Set<string>>();

  constructor(files: readonly FileDescriptorProto[]) {
    const collect = (scope: string, messages: readonly DescriptorProto[]) => {
      for (const message of messages) {
        const name = `${scope}.${message.name}`;
        const fields = message.field.map(fieldOf);
        this.messages.set(name, {
          fields: new Map(fields.flatMap((field) => [[field.name, field] as const, [field.jsonName, field] as const])),
          mapValue: message.options?.mapEntry ? fields.find((field) => field.name === 'value') : undefined,
        });
        for (const enumType of message.enumType) this.enums.set(`${name}.${enumType.name}`, new Set(enumType.value.map((v) => v.name ?? '')));
        collect(name, message.nestedType);
      }
    };
    for (const file of files) {
      collect(`.${file.package}`, file.messageType);
      for (const enumType of file.enumType) this.enums.set(`.${file.package}.${enumType.name}`, new Set(enumType.value.map((v) => v.name ?? '')));
    }
  }

  /** The field a query parameter or top-level body key names, if the message has it. */
  field(typeName: string, name: string): Field | undefined {
    return this.messages.get(typeName)?.fields.get(name);
  }

  /** Every way the JSON object misses the message type; field paths use proto names, as the service's own violations do. */
  violations(typeName: string, json: Record<string, unknown>, path = ''): FieldViolation[] {
    const violations: FieldViolation[] = [];
    this.checkMessage(typeName, json, path, violations);
    return violations;
  }

  /**
   * How many fields the request's binary encoding holds at least, nested ones
   * included, as the gRPC listener counts them (request-fields.ts); counted on
   * the parsed JSON, and given up once past limit. Only what is always a field
   * of its own on the wire counts: a message, each element of a repeated
   * string, bytes or message field, each map entry, each Struct member and
   * list element with its Value. Scalars (nothing on the wire at their
   * default), packed lists and what lies deeper than MAX_JSON_DEPTH do not, so
   * the count never passes the wire's: what it refuses, the gRPC listener
   * would refuse too, and it is refused before the work of transcoding it.
   */
  fieldCountAtLeast(typeName: string, json: Record<string, unknown>, limit: number): number {
    const tally = { count: 0, limit };
    this.countMessage(typeName, json, tally, 1);
    return tally.count;
  }

  private countMessage(typeName: string, json: Record<string, unknown>, tally: FieldTally, depth: number): void {
    const message = this.messages.get(typeName);
    if (!message || depth > MAX_JSON_DEPTH) return;
    for (const key in json) {
      const field = message.fields.get(key);
      const value = json[key];
      if (field && value !== null) this.countField(field, value, tally, depth + 1);
      if (tally.count > tally.limit) return;
    }
  }

  private countField(field: Field, value: unknown, tally: FieldTally, depth: number): void {
    const entry = field.type === TYPE.MESSAGE ? this.messages.get(field.typeName)?.mapValue : undefined;
    if (field.repeated && entry) {
      if (!isObject(value)) return;
      for (const key in value) {
        tally.count += 1;
        if (entry.type === TYPE.MESSAGE) this.countMessageContent(entry.typeName, value[key], tally, depth + 1);
        if (tally.count > tally.limit) return;
      }
      return;
    }
    if (field.repeated) {
      // Packed numbers, booleans and enums are one field for all their elements.
      if (!Array.isArray(value) || (field.type !== TYPE.STRING && field.type !== TYPE.BYTES && field.type !== TYPE.MESSAGE)) return;
      for (const item of value) {
        tally.count += 1;
        if (field.type === TYPE.MESSAGE) this.countMessageContent(field.typeName, item, tally, depth + 1);
        if (tally.count > tally.limit) return;
      }
      return;
    }
    if (field.type !== TYPE.MESSAGE) return;
    tally.count += 1;
    this.countMessageContent(field.typeName, value, tally, depth);
  }

  /** The fields inside a message given as this JSON value. */
  private countMessageContent(typeName: string, value: unknown, tally: FieldTally, depth: number): void {
    if (depth > MAX_JSON_DEPTH) return;
    switch (typeName) {
      case '.google.protobuf.Struct':
        if (isObject(value)) countStructMembers(value, tally, depth);
        return;
      case '.google.protobuf.ListValue':
        if (Array.isArray(value)) countListElements(value, tally, depth);
        return;
      case '.google.protobuf.Value':
        countValueKind(value, tally, depth);
        return;
      default:
        if (isObject(value)) this.countMessage(typeName, value, tally, depth);
    }
  }

  private checkMessage(typeName: string, json: Record<string, unknown>, path: string, violations: FieldViolation[]): void {
    const message = this.messages.get(typeName);
    if (!message) return;
    const seen = new Map<string, string>();
    for (const [key, value] of Object.entries(json)) {
      const field = message.fields.get(key);
      if (!field) {
        violations.push({ field: join(path, key), description: 'no such field' });
        continue;
      }
      const at = join(path, field.name);
      const other = seen.get(field.name);
      if (other !== undefined) violations.push({ field: at, description: `given twice, as ${other} and as ${key}` });
      seen.set(field.name, key);
      if (value === null) continue;
      this.checkField(field, value, at, violations);
    }
  }

  private checkField(field: Field, value: unknown, path: string, violations: FieldViolation[]): void {
    const entry = field.type === TYPE.MESSAGE ? this.messages.get(field.typeName)?.mapValue : undefined;
    if (field.repeated && entry) {
      if (!isObject(value)) return void violations.push({ field: path, description: 'must be a JSON object (a map)' });
      for (const [key, item] of Object.entries(value)) this.checkValue(entry, item, `${path}[${JSON.stringify(key)}]`, violations);
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) return void violations.push({ field: path, description: 'must be a JSON array' });
      value.forEach((item, i) => this.checkValue(field, item, `${path}[${i}]`, violations));
      return;
    }
    this.checkValue(field, value, path, violations);
  }

  /** One value of the field's type (an element, for a repeated field). */
  private checkValue(field: Field, value: unknown, path: string, violations: FieldViolation[]): void {
    const problem = this.problem(field, value, path, violations);
    if (problem) violations.push({ field: path, description: problem });
  }

  /** What is wrong with the value, if anything; a message's own fields add their violations themselves. */
  private problem(field: Field, value: unknown, path: string, violations: FieldViolation[]): string | undefined {
    const range = INTEGER_RANGES.get(field.type);
    if (range) return integerProblem(value, range);
    switch (field.type) {
      case TYPE.DOUBLE:
      case TYPE.FLOAT:
        return typeof value === 'number' || (typeof value === 'string' && (value === 'NaN' || /^-?Infinity$/.test(value) || (value.trim() !== '' && Number.isFinite(Number(value)))))
          ? undefined
          : 'must be a number';
      case TYPE.BOOL:
        return typeof value === 'boolean' ? undefined : 'must be true or false';
      case TYPE.STRING:
        return typeof value === 'string' ? undefined : 'must be a string';
      case TYPE.BYTES:
        return typeof value === 'string' && BASE64.test(value) ? undefined : 'must be base64 text';
      case TYPE.ENUM: {
        const names = this.enums.get(field.typeName);
        if (typeof value === 'string' && names?.has(value)) return undefined;
        if (typeof value === 'number' && integerProblem(value, INTEGER_RANGES.get(TYPE.INT32)!) === undefined) return undefined;
        return `must be one of ${[...(names ?? [])].join(', ')}`;
      }
      case TYPE.MESSAGE:
        return this.messageProblem(field.typeName, value, path, violations);
      default:
        return undefined;
    }
  }

  private messageProblem(typeName: string, value: unknown, path: string, violations: FieldViolation[]): string | undefined {
    switch (typeName) {
      case '.google.protobuf.Timestamp':
        return typeof value === 'string' && isTimestamp(value) ? undefined : 'must be an RFC 3339 time, e.g. "2026-11-26T09:00:00Z"';
      case '.google.protobuf.Duration':
        return typeof value === 'string' && DURATION.test(value) ? undefined : 'must be a duration in seconds, e.g. "1.5s"';
      case '.google.protobuf.Struct':
        return isObject(value) ? undefined : 'must be a JSON object';
      case '.google.protobuf.ListValue':
        return Array.isArray(value) ? undefined : 'must be a JSON array';
      case '.google.protobuf.Value':
        return undefined;
      default:
        if (!isObject(value)) return 'must be a JSON object';
        this.checkMessage(typeName, value, path, violations);
        return undefined;
    }
  }
}

interface FieldTally {
  count: number;
  limit: number;
}

/** A Struct's members: each an entry holding its Value (the key is nothing on the wire when empty). */
function countStructMembers(members: Record<string, unknown>, tally: FieldTally, depth: number): void {
  for (const key in members) {
    tally.count += 2;
    countValueKind(members[key], tally, depth + 1);
    if (tally.count > tally.limit) return;
  }
}

/** A ListValue's elements: a Value each. */
function countListElements(elements: readonly unknown[], tally: FieldTally, depth: number): void {
  for (const element of elements) {
    tally.count += 1;
    countValueKind(element, tally, depth + 1);
    if (tally.count > tally.limit) return;
  }
}

/** A google.protobuf.Value holds one kind (null included), and a Struct's or list's fields within it. */
function countValueKind(value: unknown, tally: FieldTally, depth: number): void {
  tally.count += 1;
  if (depth > MAX_JSON_DEPTH) return;
  if (Array.isArray(value)) countListElements(value, tally, depth);
  else if (isObject(value)) countStructMembers(value, tally, depth);
}

function fieldOf(field: FieldDescriptorProto): Field {
  return {
    name: field.name ?? '',
    jsonName: field.jsonName ?? field.name ?? '',
    type: field.type ?? 0,
    typeName: field.typeName ?? '',
    repeated: field.label === LABEL_REPEATED,
  };
}

function integerProblem(value: unknown, range: { name: string; min: bigint; max: bigint }): string | undefined {
  const text = typeof value === 'number' ? (Number.isInteger(value) ? BigInt(value).toString() : '') : typeof value === 'string' ? value : '';
  if (!/^-?\d{1,20}$/.test(text) || BigInt(text) < range.min || BigInt(text) > range.max) return `must be ${range.name}, from ${range.min} to ${range.max}`;
  return undefined;
}

function isTimestamp(text: string): boolean {
  const match = TIMESTAMP.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second, zoneHours, zoneMinutes] = match.slice(1).map((part) => (part === undefined ? 0 : Number(part)));
  const leap = year! % 4 === 0 && (year! % 100 !== 0 || year! % 400 === 0);
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month! - 1] ?? 0;
  return year! >= 1 && month! >= 1 && month! <= 12 && day! >= 1 && day! <= daysInMonth && hour! <= 23 && minute! <= 59 && second! <= 59 && zoneHours! <= 23 && zoneMinutes! <= 59;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}
