import { connect, createServer, type Socket } from 'node:net';

/** A loopback port nobody listens on right now. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port was assigned'))));
    });
  });
}

/**
 * A TCP proxy on loopback to target (host:port), whose connections can be
 * frozen: they stay open and carry nothing. Its port stays its own until it
 * is closed, whatever happens to the target: a client of a stopped target
 * is refused (its connection closed) rather than reaching whichever process
 * took the target's port next.
 */
export interface TcpProxy {
  /** host:port to connect to instead of the target. */
  address: string;
  /** Stops every connection open now from carrying anything, either way; later connections work. */
  freeze(): void;
  /** A target that hangs: freezes every connection open now, and accepts every later one without carrying anything. */
  hang(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const colon = target.lastIndexOf(':');
  const pairs = new Set<[Socket, Socket]>();
  const silent = new Set<Socket>();
  let hanging = false;
  const server = createServer((client) => {
    if (hanging) {
      silent.add(client);
      // A client giving up resets its connection; that is expected of a target that hangs.
      client.on('error', () => {}).on('close', () => silent.delete(client));
      return;
    }
    const upstream = connect({ host: target.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(target.slice(colon + 1)) });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) socket.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const freeze = () => {
    for (const [client, upstream] of pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  };
  return {
    address: `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    freeze,
    hang() {
      hanging = true;
      freeze();
    },
    async close() {
      for (const socket of [...pairs].flat().concat([...silent])) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
