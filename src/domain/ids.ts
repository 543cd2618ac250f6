import { randomFillSync } from 'node:crypto';

/** Client-chosen job ids: safe in URLs, resource names and MongoDB field paths (no '$'). */
export const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function isValidJobId(id: string): boolean {
  return JOB_ID_PATTERN.test(id);
}

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random
 * bits. Ids made later sort later, which keeps index inserts local.
 */
export function newJobId(now: Date = new Date()): string {
  const bytes = randomPoolBytes(16);
  const ms = BigInt(now.getTime());
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A fresh etag for each write of a record (AIP-154); opaque to clients. */
export function newEtag(): string {
  return randomPoolBytes(12).toString('base64url');
}

/** Random bytes are drawn from the system in blocks of this many: a job's submission, claim and outcome each take fresh ones, and one system call for each cost more than the bytes. */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomPoolOffset = 0;

/** count (at most RANDOM_POOL_BYTES) bytes from the pool, never handed out twice: the caller may change them. */
function randomPoolBytes(count: number): Buffer {
  if (randomPoolOffset + count > randomPool.length) {
    randomPool = randomFillSync(Buffer.allocUnsafe(RANDOM_POOL_BYTES));
    randomPoolOffset = 0;
  }
  const bytes = randomPool.subarray(randomPoolOffset, randomPoolOffset + count);
  randomPoolOffset += count;
  return bytes;
}
