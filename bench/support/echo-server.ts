import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';

/**
 * The unary baseline: the bare grpc-js server a competent developer would
 * write, one method answering every call with the same bytes, as large as an
 * encoded GetJob answer. Run as its own process, like the service, by
 * `startEchoServer` (unary scenario): `node echo-server.js <response bytes>`;
 * it prints `listening <host:port>` once it serves, and stops on SIGTERM.
 */
export const ECHO_PATH = '/bench.Echo/Get';

const identity = (bytes: Buffer): Buffer => bytes;

export const ECHO_SERVICE: ServiceDefinition = {
  get: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

async function main(responseBytes: number): Promise<void> {
  const response = Buffer.alloc(responseBytes, 0x61);
  const server = new Server();
  server.addService(ECHO_SERVICE, { get: (_call: unknown, callback: (error: null, value: Buffer) => void) => callback(null, response) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
  console.log(`listening 127.0.0.1:${port}`);
}

// Serves only when run as a script; the unary scenario imports the definition for its client.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const responseBytes = Number(process.argv[2]);
  if (!Number.isInteger(responseBytes) || responseBytes < 0) throw new Error(`usage: echo-server.js <response bytes>, not ${process.argv[2]}`);
  void main(responseBytes);
}
