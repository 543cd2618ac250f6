import { expect } from 'chai';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { COMPRESSION_THRESHOLD_BYTES, encodedBody } from '../../src/http/compression.js';

/** About 2 MB of JSON-like text that compresses to several of zlib's output chunks. */
function largeBody(): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < 40_000; i++) lines.push(`{"jobId":"g${String(i).padStart(6, '0')}","n":${(i * 7919) % 100_003},"hash":"${((i * 2654435761) >>> 0).toString(16)}"}`);
  return Buffer.from(lines.join(',\n'), 'utf8');
}

describe('encodedBody', () => {
  it('gives the bytes gzip gives, as chunks never joined', async () => {
    const body = largeBody();
    const { pieces, length, encoding } = await encodedBody(body, 'gzip');
    expect(encoding).to.equal('gzip');
    expect(pieces.length).to.be.above(1);
    expect(length).to.equal(pieces.reduce((sum, piece) => sum + piece.length, 0));
    expect(Buffer.concat(pieces).equals(gzipSync(body))).to.equal(true);
  });

  it('gives the bytes brotliCompress gives at the listener\'s quality', async () => {
    const body = largeBody();
    const { pieces, length, encoding } = await encodedBody(body.toString('utf8'), 'br');
    expect(encoding).to.equal('br');
    const expected = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
    expect(length).to.equal(expected.length);
    expect(Buffer.concat(pieces).equals(expected)).to.equal(true);
  });

  it('leaves identity and small bodies as they are', async () => {
    const small = Buffer.alloc(COMPRESSION_THRESHOLD_BYTES - 1, 'a');
    for (const [body, encoding] of [[small, 'gzip'], [largeBody(), 'identity']] as const) {
      const answer = await encodedBody(body, encoding);
      expect(answer.encoding).to.equal('identity');
      expect(answer.pieces).to.deep.equal([body]);
      expect(answer.length).to.equal(body.length);
    }
  });
});
