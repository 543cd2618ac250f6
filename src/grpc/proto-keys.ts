import { BinaryReader } from '@bufbuild/protobuf/wire';
import { Struct, Struct_FieldsEntry } from '@provenance/client/gen/google/protobuf/struct';
import * as auditMessages from '@provenance/client/gen/provenance/v1/audit';
import * as eventMessages from '@provenance/client/gen/provenance/v1/event';
import * as jobMessages from '@provenance/client/gen/provenance/v1/job';
import * as serviceMessages from '@provenance/client/gen/provenance/v1/provenance_service';

/** The recursion guard ts-proto's decoders share through the reader (protobuf's limit of 100 message levels). */
const DECODE_DEPTH = '__tsProtoDecodeDepth';
const MAX_DECODE_DEPTH = 100;

let installed = false;

/** Makes the generated codecs keep a "__proto__" key as data, in Structs and in map fields alike. */
export function keepProtoKeysAsData(): void {
  if (installed) return;
  installed = true;
  keepProtoKeysInStructs();
  for (const messages of [auditMessages, eventMessages, jobMessages, serviceMessages]) keepProtoKeysInMaps(messages as unknown as Record<string, unknown>);
}

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
function keepProtoKeysInStructs(): void {
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
    const reader = readerOf(input);
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

interface Codec {
  decode(input: BinaryReader | Uint8Array, length?: number): Record<string, unknown>;
}

/** The "__proto__" entries of map fields decoded inside the message being decoded, by field: the reader carries them up to it. */
const PROTO_KEY_VALUES = '__provenanceProtoKeyValues';
type CarryingReader = BinaryReader & { [PROTO_KEY_VALUES]?: Map<string, unknown> };

/**
 * ts-proto's decoder of a message with a map field assigns each entry
 * (`message.labels[entry.key] = entry.value`), so a "__proto__" key set the
 * map's prototype instead, and the label was silently dropped where any
 * other key that breaks the label rules is refused. The entry's decoder
 * (`Message_FieldEntry`, which the message's decoder calls through its
 * exported object) is replaced by one that hands such an entry to the
 * message's decoder, replaced too, which defines it as an own property of
 * the map once the message is decoded: validation then sees the key, and
 * refuses it as it refuses "_x".
 */
function keepProtoKeysInMaps(messages: Record<string, unknown>): void {
  for (const [name, entryCodec] of Object.entries(messages)) {
    const names = /^(.+)_([A-Za-z0-9]+)Entry$/.exec(name);
    const messageCodec = names ? messages[names[1]!] : undefined;
    if (!names || !isCodec(entryCodec) || !isCodec(messageCodec)) continue;
    const field = names[2]!.charAt(0).toLowerCase() + names[2]!.slice(1);
    const decodeEntry = entryCodec.decode.bind(entryCodec);
    entryCodec.decode = (input, length) => {
      const reader: CarryingReader = readerOf(input);
      const entry = decodeEntry(reader, length);
      if (entry.key === '__proto__' && entry.value !== undefined) (reader[PROTO_KEY_VALUES] ??= new Map()).set(field, entry.value);
      return entry;
    };
    const decodeMessage = messageCodec.decode.bind(messageCodec);
    messageCodec.decode = (input, length) => {
      const reader: CarryingReader = readerOf(input);
      // An enclosing message's own entries are its own: they wait while this one is decoded.
      const enclosing = reader[PROTO_KEY_VALUES];
      reader[PROTO_KEY_VALUES] = undefined;
      try {
        const message = decodeMessage(reader, length);
        const carried = reader[PROTO_KEY_VALUES] as Map<string, unknown> | undefined;
        for (const [mapField, value] of carried ?? []) setOwn(message[mapField] as Record<string, unknown>, '__proto__', value);
        return message;
      } finally {
        reader[PROTO_KEY_VALUES] = enclosing;
      }
    };
  }
}

/** The reader a generated decoder was handed, or one over the bytes it was handed, as the generated decoders make it. */
function readerOf(input: BinaryReader | Uint8Array): BinaryReader {
  return input instanceof BinaryReader ? input : new BinaryReader(input);
}

function isCodec(value: unknown): value is Codec {
  return typeof value === 'object' && value !== null && typeof (value as Partial<Codec>).decode === 'function';
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, because assigning a "__proto__" key would set the prototype instead.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
  else target[key] = value;
}
