import { expect } from 'chai';
import { RedisConnectionWatch } from '../../src/adapters/shared/redis-connection-watch.js';

/** What ioredis reports on each failed reconnection attempt. */
function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { syscall: 'connect', code: 'ECONNREFUSED' });
}

describe('the Redis connection watch', () => {
  let lines: Array<{ level: string; fields: Record<string, unknown>; message: string }>;
  let now: number;
  let watch: RedisConnectionWatch;

  beforeEach(() => {
    lines = [];
    now = 1_000;
    watch = new RedisConnectionWatch(
      {
        warn: (fields, message) => lines.push({ level: 'warn', fields: fields as Record<string, unknown>, message }),
        info: (fields, message) => lines.push({ level: 'info', fields: fields as Record<string, unknown>, message }),
      },
      () => now,
    );
  });

  it('logs one line when the first connection is lost and one when the last is back, counting the failures between', () => {
    const queue = watch.connection('queue');
    const events = watch.connection('events');
    expect(watch.state()).to.deep.equal({ queue: true, events: true });
    for (let attempt = 0; attempt < 40; attempt++) queue.failed(refused());
    for (let attempt = 0; attempt < 28; attempt++) events.failed(refused());
    expect(watch.state()).to.deep.equal({ queue: false, events: false });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.deep.include({ level: 'warn', fields: { connection: 'queue', reason: 'connect ECONNREFUSED 127.0.0.1:6379' } });

    now = 9_000;
    queue.ready();
    expect(watch.state()).to.deep.equal({ queue: true, events: false });
    expect(lines).to.have.length(1);
    events.ready();
    events.ready();
    expect(watch.state()).to.deep.equal({ queue: true, events: true });
    expect(lines).to.have.length(2);
    expect(lines[1]).to.deep.include({ level: 'info', message: 'Redis connection back', fields: { connection: 'events', downMs: 8_000, suppressedErrors: 67 } });
  });

  it('logs a failure that is not about reaching Redis every time, without calling the connection lost', () => {
    const queue = watch.connection('queue');
    queue.failed(new TypeError('a listener threw'));
    queue.failed(new TypeError('a listener threw'));
    expect(lines.map((line) => line.level)).to.deep.equal(['warn', 'warn']);
    expect(watch.state()).to.deep.equal({ queue: true });
    queue.ready();
    expect(lines).to.have.length(2);
  });
});
