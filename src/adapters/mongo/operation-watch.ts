import type { ConnectionClosedEvent, MongoClient } from 'mongodb';
import { unavailable } from '../../domain/errors.js';

/** Runs fail after ms, unless the function it returns is called first. */
export type Schedule = (fail: () => void, ms: number) => () => void;

const timer: Schedule = (fail, ms) => {
  const handle = setTimeout(fail, ms);
  handle.unref();
  return () => clearTimeout(handle);
};

interface Watched {
  fail(error: Error): void;
  cancel?: () => void;
}

/**
 * Bounds the operations that a connection dying under them would hold
 * forever. The driver (7.9) waits for a socket's 'drain' when a write
 * returns false, and a socket destroyed just before the write never emits
 * it: an operation that wrote on a connection as the database went away
 * never settles, nor does any call awaiting it (the outage test hung 3
 * times in about 390 runs, run 3 or 4 at a time). Such an operation is in
 * flight when the driver closes its connection on the error, so: once any
 * connection of the client closes on an error, each operation running then
 * has graceMs to settle, and fails UNAVAILABLE otherwise. An operation started later
 * is not concerned; a healthy one still running after the grace fails too,
 * which a database that just lost a connection makes likely anyway.
 */
export class OperationWatch {
  private readonly running = new Set<Watched>();

  constructor(
    client: Pick<MongoClient, 'on'>,
    private readonly graceMs: number,
    private readonly schedule: Schedule = timer,
  ) {
    client.on('connectionClosed', (event: ConnectionClosedEvent) => {
      if (event.reason === 'error') this.connectionFailed();
    });
  }

  async run<T>(operation: () => Promise<T>): Promise<T> {
    let fail!: (error: Error) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    const watched: Watched = { fail };
    // Only the race below reads this failure; a timer that fires as the operation settles must not be an unhandled rejection.
    failed.catch(() => {});
    this.running.add(watched);
    try {
      return await Promise.race([operation(), failed]);
    } finally {
      this.running.delete(watched);
      watched.cancel?.();
    }
  }

  private connectionFailed(): void {
    for (const watched of this.running) {
      watched.cancel ??= this.schedule(() => watched.fail(unavailable('the database is unavailable; retry later')), this.graceMs);
    }
  }
}
