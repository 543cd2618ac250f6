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
 * A server process that is stopped and started again on one gRPC address,
 * so that clients find it where they left it, with the same records and
 * event stream.
 */
export interface RestartableServer {
  /** host:port, the same across restarts. */
  readonly address: string;
  /** Starts the server again; it must be stopped. */
  start(): Promise<void>;
  /** SIGTERM, as a deployment stops it, and waits until the process has exited. */
  stop(): Promise<void>;
  /** The WatchEvents subscriptions the running server has open, from its metrics. */
  subscriberCount(): Promise<number>;
}

/** Starts a server on a free port that it keeps across restarts; env is added to every start. */
export async function startRestartableServer(state: DurableState, env: Record<string, string> = {}): Promise<RestartableServer> {
  const address = `127.0.0.1:${await findFreePort()}`;
  const serverEnv = { ...env, PROVENANCE_SQLITE_PATH: state.sqlitePath, PROVENANCE_REDIS_PREFIX: state.redisPrefix, PROVENANCE_GRPC_ADDRESS: address };
  let running: ServerProcess | undefined;
  const server: RestartableServer = {
    address,
    async start() {
      if (running) throw new Error(`the server at ${address} is already running`);
      running = await startServer(serverEnv);
    },
    async stop() {
      const stopping = running;
      running = undefined;
      await stopping?.stop();
    },
    async subscriberCount() {
      if (!running) throw new Error(`the server at ${address} is stopped`);
      const response = await fetch(`http://${running.httpAddress}/metrics`);
      return total(parseExposition(await response.text()), 'provenance_event_subscribers');
    },
  };
  await server.start();
  return server;
}
