import type { DescriptorProto, FileDescriptorProto } from '@provenance/client/gen/google/protobuf/descriptor';

const DURATION = '.google.protobuf.Duration';
const TYPE_MESSAGE = 11;

/** A message field, as the walk needs it: where it is in JSON, and what it holds. */
interface MessageField {
  jsonName: string;
  typeName: string;
}

/**
 * ts-proto writes google.protobuf.Duration in JSON as {"seconds", "nanos"};
 * the proto3 JSON mapping writes a string ("150s", "1.500s"). This puts
 * each Duration of an answer in its canonical form, finding them through
 * the descriptor set (Job.duration, wherever a Job appears).
 */
export class DurationMapping {
  /** The message fields of each message type that holds a Duration, at any depth. */
  private readonly withDurations = new Map<string, MessageField[]>();

  constructor(files: readonly FileDescriptorProto[]) {
    const messageFields = new Map<string, MessageField[]>();
    const collect = (scope: string, messages: readonly DescriptorProto[]) => {
      for (const message of messages) {
        const fields = message.field.filter((f) => f.type === TYPE_MESSAGE).map((f) => ({ jsonName: f.jsonName!, typeName: f.typeName! }));
        messageFields.set(`${scope}.${message.name}`, fields);
        collect(`${scope}.${message.name}`, message.nestedType);
      }
    };
    for (const file of files) collect(`.${file.package}`, file.messageType);
    const holds = (typeName: string, seen: Set<string>): boolean =>
      typeName === DURATION || (!seen.has(typeName) && (messageFields.get(typeName) ?? []).some((f) => holds(f.typeName, new Set(seen).add(typeName))));
    for (const [typeName, fields] of messageFields) {
      const relevant = fields.filter((f) => holds(f.typeName, new Set([typeName])));
      if (relevant.length > 0) this.withDurations.set(typeName, relevant);
    }
  }

  /** The JSON of a message of that type, with its Durations as strings (changed in place). */
  canonical(typeName: string, json: unknown): unknown {
    const fields = this.withDurations.get(typeName);
    if (!fields || json === null || typeof json !== 'object') return json;
    const object = json as Record<string, unknown>;
    for (const { jsonName, typeName: fieldType } of fields) {
      const value = object[jsonName];
      if (value === undefined) continue;
      const convert = (item: unknown) => (fieldType === DURATION ? durationString(item as { seconds?: string; nanos?: number }) : this.canonical(fieldType, item));
      object[jsonName] = Array.isArray(value) ? value.map(convert) : convert(value);
    }
    return object;
  }
}

/** "150s", "1.500s", "0.000000001s": seconds, then 3, 6 or 9 digits of fraction when there is one, as protobuf writes them. */
export function durationString(duration: { seconds?: string; nanos?: number }): string {
  const nanos = duration.nanos ?? 0;
  if (nanos === 0) return `${duration.seconds ?? '0'}s`;
  const digits = String(nanos).padStart(9, '0');
  const fraction = digits.endsWith('000000') ? digits.slice(0, 3) : digits.endsWith('000') ? digits.slice(0, 6) : digits;
  return `${duration.seconds ?? '0'}.${fraction}s`;
}
