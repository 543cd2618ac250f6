import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { ProvenanceError } from '../../src/domain/errors.js';
import { OperationWatch, type Schedule } from '../../src/adapters/mongo/operation-watch.js';
import { rejection } from '../support/waits.js';

const GRACE_MS = 5000;

/** A client whose connections the test closes, and a clock the test moves: each armed timer fires when the test says. */
function watched() {
  const client = new EventEmitter();
  const armed: Array<{ fail: () => void; ms: number; cancelled: boolean }> = [];
  const schedule: Schedule = (fail, ms) => {
    const timer = { fail, ms, cancelled: false };
    armed.push(timer);
    return () => (timer.cancelled = true);
  };
  return {
    watch: new OperationWatch(client as never, GRACE_MS, schedule),
    armed,
    closeConnection: (reason: string) => client.emit('connectionClosed', { reason }),
    /** The grace runs out for every timer armed so far. */
    elapse: () => armed.filter((timer) => !timer.cancelled).forEach((timer) => timer.fail()),
  };
}

/** An operation that settles only when the test settles it, as one held by a dead connection never does. */
function pending<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { operation: () => promise, resolve, reject };
}

describe('the MongoDB operation watch', () => {
  it('fails UNAVAILABLE an operation still running a grace after a connection closed on an error', async () => {
    const { watch, armed, closeConnection, elapse } = watched();
    const held = pending<string>();
    const running = watch.run(held.operation);
    closeConnection('error');
    expect(armed.map((timer) => timer.ms)).to.deep.equal([GRACE_MS]);
    elapse();
    const error = await rejection(running);
    expect(error).to.be.instanceOf(ProvenanceError);
    expect(error).to.include({ code: 'UNAVAILABLE', reason: 'STORE_UNAVAILABLE' });
  });

  it('lets an operation that settles within the grace answer, its value or its own error, and cancels its timer', async () => {
    const { watch, armed, closeConnection } = watched();
    const answered = pending<string>();
    const failing = pending<string>();
    const runs = [watch.run(answered.operation), watch.run(failing.operation)];
    closeConnection('error');
    answered.resolve('stored');
    failing.reject(new Error('duplicate key'));
    expect(await runs[0]).to.equal('stored');
    expect(await rejection(runs[1]!)).to.have.property('message', 'duplicate key');
    expect(armed.map((timer) => timer.cancelled)).to.deep.equal([true, true]);
  });

  it('arms nothing for a connection closed as idle, stale or with its pool, nor for an operation started after the failure', async () => {
    const { watch, armed, closeConnection } = watched();
    const held = pending<string>();
    const running = watch.run(held.operation);
    for (const reason of ['idle', 'stale', 'poolClosed']) closeConnection(reason);
    expect(armed).to.have.length(0);

    closeConnection('error');
    const later = pending<string>();
    const laterRun = watch.run(later.operation);
    expect(armed).to.have.length(1);
    later.resolve('later');
    held.resolve('held');
    expect(await Promise.all([running, laterRun])).to.deep.equal(['held', 'later']);
  });

  it('arms an operation once, however many connections close under it', async () => {
    const { watch, armed, closeConnection, elapse } = watched();
    const running = watch.run(pending<string>().operation);
    closeConnection('error');
    closeConnection('error');
    expect(armed).to.have.length(1);
    elapse();
    expect(await rejection(running)).to.include({ code: 'UNAVAILABLE' });
  });
});
