/**
 * Many short strings as UTF-8 bytes back to back: string i is bytes
 * offsets[i] to offsets[i + 1] of utf8. Typed arrays cross threads moved,
 * not copied, and are written to the wire as they are, without a string
 * per entry on the receiving side (docs/decisions.md, "Lineage built on
 * the graph").
 */
export interface Utf8Strings {
  utf8: Uint8Array<ArrayBuffer>;
  /** One more than there are strings. */
  offsets: Int32Array<ArrayBuffer>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toUtf8Strings(strings: readonly string[]): Utf8Strings {
  let length = 0;
  for (const string of strings) length += string.length;
  // Exact for ASCII, which ids are (ids.ts); grown for anything longer.
  const column = new Utf8StringColumn(length, strings.length);
  for (const string of strings) column.push(string);
  return column.strings();
}

/** Writes the string at `at` of bytes when it is ASCII (its code units are then its UTF-8) and says whether it was; stops at the first code unit that is not. */
function writeAscii(string: string, bytes: Uint8Array, at: number): boolean {
  for (let c = 0; c < string.length; c++) {
    const code = string.charCodeAt(c);
    if (code > 0x7f) return false;
    bytes[at + c] = code;
  }
  return true;
}

/** bytes, or a copy grown to hold the UTF-8 of string after its first `end` bytes (at most 3 bytes per UTF-16 code unit). */
export function withRoomForUtf8(bytes: Uint8Array<ArrayBuffer>, end: number, string: string): Uint8Array<ArrayBuffer> {
  const needed = end + 3 * string.length;
  return needed > bytes.length ? grown(bytes, Math.max(2 * bytes.length, needed)) : bytes;
}

/**
 * Writes the UTF-8 of string at `at` of bytes, which must have room for it
 * (withRoomForUtf8), and returns how many bytes it took: string.length when
 * it is ASCII, more when it is not (every code unit past ASCII takes two or
 * three bytes).
 */
export function writeUtf8(string: string, bytes: Uint8Array, at: number): number {
  return writeAscii(string, bytes, at) ? string.length : encoder.encodeInto(string, bytes.subarray(at)).written;
}

export function utf8StringCount(strings: Utf8Strings): number {
  return strings.offsets.length - 1;
}

export function utf8StringAt(strings: Utf8Strings, index: number): string {
  return decoder.decode(strings.utf8.subarray(strings.offsets[index], strings.offsets[index + 1]));
}

/**
 * Every string, stepSize at a time with a pause (yield) after each run of
 * them (one decoding of the run when it is ASCII, else one by one):
 * decoding the 700,000 ids of a whole ancestry on a 1,000,000-job graph at
 * once held the thread for 0.8 to 1.7 s on the loaded 2-core machine.
 */
export function* fromUtf8StringsInSteps(strings: Utf8Strings, stepSize: number): Generator<void, string[]> {
  const count = utf8StringCount(strings);
  const list = new Array<string>(count);
  for (let from = 0; from < count; from += stepSize) {
    const to = Math.min(count, from + stepSize);
    decodeRun(strings, from, to, list, from);
    yield;
  }
  return list;
}

/** The strings from to to - 1, decoded as fromUtf8StringsInSteps decodes a run of them. */
export function utf8StringsIn(strings: Utf8Strings, from: number, to: number): string[] {
  const list = new Array<string>(to - from);
  decodeRun(strings, from, to, list, 0);
  return list;
}

/** Strings from to to - 1 into list from at: one decoding of the run when it is ASCII, else one by one. */
function decodeRun(strings: Utf8Strings, from: number, to: number, list: string[], at: number): void {
  const { offsets } = strings;
  const start = offsets[from]!;
  const run = decoder.decode(strings.utf8.subarray(start, offsets[to]));
  // ASCII (as ids are): byte offsets are character offsets.
  if (run.length === offsets[to]! - start) for (let i = from; i < to; i++) list[at + i - from] = run.slice(offsets[i]! - start, offsets[i + 1]! - start);
  else for (let i = from; i < to; i++) list[at + i - from] = utf8StringAt(strings, i);
}

/**
 * Strings added one at a time and kept as UTF-8 bytes back to back (as
 * Utf8Strings), each decoded again when asked for (at): a renderer that
 * names each of a whole ancestry's jobs again in its edges keeps the ids
 * outside the JavaScript heap, where a string each would be marked by
 * every full collection while the export runs.
 */
export class Utf8StringColumn {
  /** What was pushed: its utf8 has room for more beyond offsets[length]. */
  private readonly held: Utf8Strings;
  private count = 0;

  /** With room for that many bytes and strings at first; grown as needed. */
  constructor(bytes = 4096, strings = 1023) {
    this.held = { utf8: new Uint8Array(bytes), offsets: new Int32Array(strings + 1) };
  }

  get length(): number {
    return this.count;
  }

  push(string: string): void {
    const held = this.held;
    const end = held.offsets[this.count]!;
    held.utf8 = withRoomForUtf8(held.utf8, end, string);
    const written = writeUtf8(string, held.utf8, end);
    if (this.count + 2 > held.offsets.length) held.offsets = grown(held.offsets, Math.max(2 * held.offsets.length, this.count + 2));
    held.offsets[++this.count] = end + written;
  }

  at(index: number): string {
    return utf8StringAt(this.held, index);
  }

  /** The strings pushed, their arrays trimmed to them (copied only where they have room to spare). */
  strings(): Utf8Strings {
    const { utf8, offsets } = this.held;
    const end = offsets[this.count]!;
    return { utf8: end === utf8.length ? utf8 : utf8.slice(0, end), offsets: this.count + 1 === offsets.length ? offsets : offsets.slice(0, this.count + 1) };
  }
}

/** A copy of array with room for length entries (at least its own), the rest zero: how the packed arrays here and the lineage graph's grow. */
export function grown<T extends Uint8Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer>>(array: T, length: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array as never);
  return bigger;
}
