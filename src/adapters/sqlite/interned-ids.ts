import { Buffer } from 'node:buffer';
import { compareCodeUnits } from '../../domain/hashing.js';
import { grown, withRoomForUtf8, writeUtf8, type Utf8Strings } from '../../domain/utf8-strings.js';

/** A slot of the hash table that holds no id. */
const EMPTY = -1;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Job ids interned to dense indexes, held as UTF-8 bytes back to back in
 * one buffer and found through an open-addressing hash table of indexes:
 * outside the JavaScript heap, an id's bytes and 16 to 24 more (its
 * offset, its hash, two to four table slots), where a string per id and a
 * Map entry for it took about 70 bytes of heap for a 7-character id, which
 * every full collection of the graph's thread marked (docs/decisions.md, "SQLite lineage graph"). Ids
 * are ASCII (domain/ids.ts), so an id's bytes are its code units and byte
 * order is the code-unit order lineages sort by; an id that is not ASCII
 * (data older than that rule) is still held and found, and compared as a
 * string.
 */
export class InternedIds {
  private bytes = new Uint8Array(1 << 16);
  private byteLength = 0;
  /** Id i is bytes offsets[i] to offsets[i + 1]. */
  private offsets = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  /** Indexes by hash, linear probing; a power of two, at most half full. */
  private slots = new Int32Array(2048).fill(EMPTY);
  private nonAscii = 0;
  private text = Buffer.from(this.bytes.buffer);
  count = 0;

  /** The index of id, or undefined when it was never interned. */
  find(id: string): number | undefined {
    const mask = this.slots.length - 1;
    for (let slot = hashOf(id) & mask; ; slot = (slot + 1) & mask) {
      const index = this.slots[slot]!;
      if (index === EMPTY) return undefined;
      if (this.holds(index, id)) return index;
    }
  }

  /** The index of id, given the next one when it has none. */
  intern(id: string): number {
    const hash = hashOf(id);
    let mask = this.slots.length - 1;
    let slot = hash & mask;
    for (; ; slot = (slot + 1) & mask) {
      const index = this.slots[slot]!;
      if (index === EMPTY) break;
      if (this.holds(index, id)) return index;
    }
    const index = this.count++;
    if (this.count + 1 > this.offsets.length) {
      this.offsets = grown(this.offsets, this.offsets.length * 2);
      this.hashes = grown(this.hashes, this.hashes.length * 2);
    }
    this.append(id);
    this.offsets[index + 1] = this.byteLength;
    this.hashes[index] = hash;
    if (2 * this.count > this.slots.length) {
      this.rehash(this.slots.length * 2);
      mask = this.slots.length - 1;
      for (slot = hash & mask; this.slots[slot] !== EMPTY; slot = (slot + 1) & mask);
    }
    this.slots[slot] = index;
    return index;
  }

  id(index: number): string {
    return this.text.toString('utf8', this.offsets[index]!, this.offsets[index + 1]!);
  }

  /** Code-unit order of the ids at a and b (as `<` orders strings). */
  compare(a: number, b: number): number {
    if (this.nonAscii > 0) return compareCodeUnits(this.id(a), this.id(b));
    const { bytes, offsets } = this;
    const [aStart, aEnd, bStart, bEnd] = [offsets[a]!, offsets[a + 1]!, offsets[b]!, offsets[b + 1]!];
    const length = Math.min(aEnd - aStart, bEnd - bStart);
    for (let i = 0; i < length; i++) {
      const difference = bytes[aStart + i]! - bytes[bStart + i]!;
      if (difference !== 0) return difference;
    }
    return aEnd - aStart - (bEnd - bStart);
  }

  /** The ids at indexes[0 .. count), as UTF-8 strings for the wire: a copy of their bytes, no string made. */
  utf8Of(indexes: Int32Array, count = indexes.length): Utf8Strings {
    const { bytes, offsets: from } = this;
    const offsets = new Int32Array(count + 1);
    let length = 0;
    for (let i = 0; i < count; i++) {
      const index = indexes[i]!;
      length += from[index + 1]! - from[index]!;
      offsets[i + 1] = length;
    }
    const utf8 = new Uint8Array(length);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const index = indexes[i]!;
      for (let b = from[index]!, end = from[index + 1]!; b < end; b++) utf8[at++] = bytes[b]!;
    }
    return { utf8, offsets };
  }

  private holds(index: number, id: string): boolean {
    const start = this.offsets[index]!;
    const end = this.offsets[index + 1]!;
    if (end - start !== id.length) return this.nonAscii > 0 && this.id(index) === id;
    const { bytes } = this;
    for (let i = 0; i < id.length; i++) {
      const code = id.charCodeAt(i);
      // A code unit past ASCII is never one byte of its UTF-8: compare as strings.
      if (code > 0x7f) return this.id(index) === id;
      if (bytes[start + i] !== code) return false;
    }
    return true;
  }

  private append(id: string): void {
    const bytes = withRoomForUtf8(this.bytes, this.byteLength, id);
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.text = Buffer.from(bytes.buffer);
    }
    const written = writeUtf8(id, bytes, this.byteLength);
    if (written !== id.length) this.nonAscii += 1;
    this.byteLength += written;
  }

  private rehash(size: number): void {
    const slots = new Int32Array(size).fill(EMPTY);
    const mask = size - 1;
    for (let index = 0; index < this.count; index++) {
      let slot = this.hashes[index]! & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = index;
    }
    this.slots = slots;
  }
}

/** FNV-1a over the id's code units. */
function hashOf(id: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), FNV_PRIME);
  return hash >>> 1;
}
