import type { IncomingMessage } from 'node:http';
import { constants, createBrotliCompress, createGzip, type BrotliCompress, type Gzip } from 'node:zlib';
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
 * A compressed body comes as zlib's output chunks, the bytes `gzip` and
 * `brotliCompress` give, which they join in one copy on the event loop
 * (30 ms of its CPU for a whole ancestry's REST answer on the loaded 2-core
 * machine); the listener writes the chunks one after the other.
 */
export async function encodedBody(body: string | Buffer, encoding: ContentEncoding): Promise<{ pieces: Buffer[]; length: number; encoding: ContentEncoding }> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (encoding === 'identity' || bytes.length < COMPRESSION_THRESHOLD_BYTES) return { pieces: [bytes], length: bytes.length, encoding: 'identity' };
  const compressor =
    encoding === 'gzip'
      ? createGzip()
      : createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
  const pieces = await compressedPieces(compressor, bytes);
  return { pieces, length: pieces.reduce((sum, piece) => sum + piece.length, 0), encoding };
}

/** What the compressor makes of bytes, as the chunks it gives. */
function compressedPieces(compressor: Gzip | BrotliCompress, bytes: Buffer): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = [];
    compressor.on('data', (chunk: Buffer) => pieces.push(chunk));
    compressor.once('end', () => resolve(pieces));
    compressor.once('error', reject);
    compressor.end(bytes);
  });
}
