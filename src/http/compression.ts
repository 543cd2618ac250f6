import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import Negotiator from 'negotiator';

/** Answers smaller than this go as they are: compressing them saves less than its headers cost. */
export const COMPRESSION_THRESHOLD_BYTES = 1024;
/**
 * Brotli's quality: 11, zlib's default, takes about ten times as long as
 * gzip on a large lineage for a few percent less; 5 is about gzip's speed
 * and smaller than gzip's output.
 */
const BROTLI_QUALITY = 5;

/** The encodings the listener writes, in its order of preference among those a client accepts as much. */
const ENCODINGS = ['gzip', 'br', 'identity'] as const;
export type ContentEncoding = (typeof ENCODINGS)[number];

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/**
 * The encoding the request's Accept-Encoding prefers (q-values honoured,
 * `*` and `identity;q=0` included); identity when it names none of ours.
 */
export function negotiatedEncoding(request: IncomingMessage): ContentEncoding {
  return (new Negotiator(request).encoding([...ENCODINGS]) as ContentEncoding | undefined) ?? 'identity';
}

/**
 * The body as sent: compressed in zlib's thread pool (the event loop is not
 * held) with that encoding, or as it is when identity or under the threshold.
 */
export async function encodedBody(body: string | Buffer, encoding: ContentEncoding): Promise<{ bytes: Buffer; encoding: ContentEncoding }> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (encoding === 'identity' || bytes.length < COMPRESSION_THRESHOLD_BYTES) return { bytes, encoding: 'identity' };
  if (encoding === 'gzip') return { bytes: await gzipAsync(bytes), encoding };
  return { bytes: await brotliAsync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }), encoding };
}
