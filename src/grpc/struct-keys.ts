import { BinaryReader } from '@bufbuild/protobuf/wire';
import { Struct, Struct_FieldsEntry } from '@provenance/client/gen/google/protobuf/struct';

/** The recursion guard ts-proto's decoders share through the reader (protobuf's limit of 100 message levels). */
const DECODE_DEPTH = '__tsProtoDecodeDepth';
const MAX_DECODE_DEPTH = 100;

let installed = false;

/**
 * Makes the generated google.protobuf.Struct codec keep every key as data.
 * ts-proto's Struct.decode, wrap and unwrap assign each key into a plain
 * object, and assigning "__proto__" sets the object's prototype instead: a
 * payload key "__proto__" vanished on the way in (gRPC and REST alike) and
 * on the way out, where every other part of the service (hashing,
 * redaction, both stores) keeps it. The three are replaced, once per
 * process, by versions that define such a key as an own property; the
 * generated encoders call them through the Struct object, so every message
 * holding a Struct or a Value uses them. Generated code stays as generated.
 */
export function keepProtoKeysInStructs(): void {
  if (installed) return;
  installed = true;
  Struct.wrap = (object) => {
    const fields: Record<string, unknown> = {};
    for (const key of Object.keys(object ?? {})) setOwn(fields, key, object![key]);
    return { fields };
  };
  Struct.unwrap = (message) => {
    const object: Record<string, unknown> = {};
    for (const key of Object.keys(message.fields ?? {})) setOwn(object, key, message.fields[key]);
    return object;
  };
  Struct.decode = (input, length) => {
    const reader = input instanceof BinaryReader ? input : new BinaryReader(input);
    const guarded = reader as unknown as Record<string, number | undefined>;
    const depth = guarded[DECODE_DEPTH] ?? 0;
    if (depth >= MAX_DECODE_DEPTH) throw new Error('protobuf decode recursion limit exceeded');
    guarded[DECODE_DEPTH] = depth + 1;
    try {
      const end = length === undefined ? reader.len : reader.pos + length;
      const fields: Record<string, unknown> = {};
      while (reader.pos < end) {
        const tag = reader.uint32();
        if (tag === 10) {
          const entry = Struct_FieldsEntry.decode(reader, reader.uint32());
          if (entry.value !== undefined) setOwn(fields, entry.key, entry.value);
          continue;
        }
        if ((tag & 7) === 4 || tag === 0) break;
        reader.skip(tag & 7);
      }
      return { fields };
    } finally {
      guarded[DECODE_DEPTH] = depth;
    }
  };
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, because assigning a "__proto__" key would set the prototype instead.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
  else target[key] = value;
}
