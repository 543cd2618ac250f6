import { connect, createServer, type Server, type Socket } from 'node:net';
import { findFreePort } from './net.js';
import { parseExposition, total } from './prometheus.js';
import { startServer, type ServerProcess } from './server-process.js';

/** Where a restartable server keeps what must outlive its restarts. */
export interface DurableState {
  /** PROVENANCE_SQLITE_PATH: the records. */
  sqlitePath: string;
  /** PROVENANCE_REDIS_PREFIX: the event stream and its cursors (and the queue); the caller deletes its keys at the end. */
  redisPrefix: string;
}

/**
 * A server that is stopped and started again on one gRPC address, so that
 * clients find it where they left it, with the same records and event
 * stream.
 *
 * The address is a loopback front that forwards each connection to the
 * current server process. A restart's new process is started, and waited
 * for, before the old one is stopped; start() only opens the front again.
 * So a client sees a server that goes away and refuses connections for
 * exactly as long as the test keeps it stopped, however long a process
 * takes to start on a busy machine (10-20 s were seen, more than a client's
 * resume policy waits).
 */
export interface RestartableServer {
  /** host:port, the same across restarts. */
  readonly address: string;
  /** Serves again: the front accepts connections, for the process made ready by stop(). The server must be stopped. */
  start(): Promise<void>;
  /**
   * Readies the next process, then refuses new connections and stops the
   * running process with SIGTERM, as a deployment stops it (its calls end
   * and its connections close), and waits until it has exited.
   */
  stop(): Promise<void>;
  /** The WatchEvents subscriptions the running server has open, from its metrics. */
  subscriberCount(): Promise<number>;
  /** Stops the running process, or the one readied for the next start, and closes the front. */
  close(): Promise<void>;
}

/** Starts a server behind a front on a free port that it keeps across restarts; env is added to every start. */
export async function startRestartableServer(state: DurableState, env: Record<string, string> = {}): Promise<RestartableServer> {
  const port = await findFreePort();
  const address = `127.0.0.1:${port}`;
  const serverEnv = { ...env, PROVENANCE_SQLITE_PATH: state.sqlitePath, PROVENANCE_REDIS_PREFIX: state.redisPrefix };
  let running: ServerProcess | undefined = await startServer(serverEnv);
  let next: ServerProcess | undefined;
  const front = new Front(() => running?.address);
  await front.open(port);
  return {
    address,
    async start() {
      if (running) throw new Error(`the server at ${address} is already running`);
      if (!next) throw new Error(`the server at ${address} was not stopped by stop()`);
      running = next;
      next = undefined;
      await front.open(port);
    },
    async stop() {
      if (!running) throw new Error(`the server at ${address} is already stopped`);
      next = await startServer(serverEnv);
      const stopping = running;
      running = undefined;
      front.shut();
      await stopping.stop();
    },
    async subscriberCount() {
      if (!running) throw new Error(`the server at ${address} is stopped`);
      const response = await fetch(`http://${running.httpAddress}/metrics`);
      return total(parseExposition(await response.text()), 'provenance_event_subscribers');
    },
    async close() {
      front.shut();
      front.dropAll();
      for (const process of [running, next]) await process?.stop();
      running = next = undefined;
    },
  };
}

/** A loopback listener that pipes each connection to the current target; shut, it refuses connections as a stopped server's port does. */
class Front {
  private listener: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();

  constructor(private readonly target: () => string | undefined) {}

  /** Listens on port; a listener of its own each time, so that connections of the one before do not hold it. */
  open(port: number): Promise<void> {
    const listener = createServer((client) => this.forward(client));
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, '127.0.0.1', () => {
        listener.off('error', reject);
        this.listener = listener;
        resolve();
      });
    });
  }

  /** Stops accepting at once; open connections go on until one of their ends closes. */
  shut(): void {
    this.listener?.close();
    this.listener = undefined;
  }

  dropAll(): void {
    for (const pair of this.pairs) for (const socket of pair) socket.destroy();
  }

  private forward(client: Socket): void {
    const to = this.target();
    if (!to) return void client.destroy();
    const colon = to.lastIndexOf(':');
    const upstream = connect({ host: to.slice(0, colon), port: Number(to.slice(colon + 1)) });
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // Either end gone: so is the other, as when the client's connection was to the server itself.
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) socket.on('error', end).on('close', end);
  }
}
