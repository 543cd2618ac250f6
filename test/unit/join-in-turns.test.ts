import { expect } from 'chai';
import { joinInTurns } from '../../src/grpc/encoded-messages.js';
import { mulberry32 } from '../support/job-records.js';

const text = (value: string): Buffer => Buffer.from(value, 'utf8');

/** Turns of the event loop taken while work runs: a setImmediate chain counts them. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ turns: number; value: T }> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const value = await work();
  running = false;
  return { turns, value };
}

describe('joinInTurns', () => {
  it('writes the pieces one after the other, as one concat of them', async () => {
    const random = mulberry32(20261205);
    const alphabet = ['a', 'é', '→', '😀', '\n', '"'];
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const length = Math.floor(random() * 40);
      if (random() < 0.5) pieces.push(Uint8Array.from({ length }, () => Math.floor(random() * 256)));
      else pieces.push(text(Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')));
    }
    const whole = Buffer.concat(pieces);
    for (const stepBytes of [1, 7, 64, 1 << 20]) expect(await joinInTurns(pieces, stepBytes), `step ${stepBytes}`).to.deep.equal(whole);
    expect(await joinInTurns([])).to.deep.equal(Buffer.alloc(0));
  });

  it('lets the event loop turn after every stepBytes written, within a large piece too', async () => {
    const large = Uint8Array.from({ length: 100 }, (_, i) => i);
    const { turns, value } = await turnsDuring(() => joinInTurns([large, text('end')], 10));
    expect(value).to.deep.equal(Buffer.concat([large, Buffer.from('end')]));
    expect(turns).to.be.at.least(10);
  });
});
