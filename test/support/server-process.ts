import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deleteQueueKeys, TEST_REDIS_URL, uniqueQueuePrefix } from './redis.js';

/** A server started the way `npm start` starts it (node dist/src/main.js), on a port the system picks; or a worker as `npm run worker` starts it. */
export interface ServerProcess {
  /** host:port of the gRPC server; empty for a worker. */
  address: string;
  /** host:port of the HTTP listener (health, metrics); empty for a worker, or when PROVENANCE_HTTP_ADDRESS=off. */
  httpAddress: string;
  child: ChildProcess;
  /** Everything the server printed, stdout and stderr. */
  output(): string;
  /** Sends the signal and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../../src/worker.js', import.meta.url));
/** Generous: a start takes about a second, but many times that beside CPU-bound processes. */
const STARTUP_TIMEOUT_MS = 60_000;

/** What the process printed so far, each time it prints, until it serves (to see what a start that waits is waiting for). */
export type StartProgress = (output: string) => void;

/** nodeOptions go to node before the script (e.g. --cpu-prof). */
export function startServer(env: Record<string, string | undefined>, nodeOptions: string[] = [], progress?: StartProgress): Promise<ServerProcess> {
  return startEntryPoint(MAIN, /"address":"([^"]+)"[^\n]*"msg":"serving"/, env, nodeOptions, progress);
}

export function startWorker(env: Record<string, string | undefined>, nodeOptions: string[] = [], progress?: StartProgress): Promise<ServerProcess> {
  return startEntryPoint(WORKER, /"msg":"working"/, env, nodeOptions, progress);
}

function startEntryPoint(
  script: string,
  ready: RegExp,
  env: Record<string, string | undefined>,
  nodeOptions: string[],
  progress: StartProgress | undefined,
): Promise<ServerProcess> {
  // Unless the test shares a queue between processes, each process gets Redis keys of its own, deleted when it stops.
  const ownPrefix = env.PROVENANCE_REDIS_PREFIX === undefined ? uniqueQueuePrefix() : undefined;
  const child = spawn(process.execPath, [...nodeOptions, script], {
    env: {
      ...process.env,
      PROVENANCE_GRPC_ADDRESS: '127.0.0.1:0',
      // Servers started in parallel never clash on the default 8080.
      PROVENANCE_HTTP_ADDRESS: '127.0.0.1:0',
      PROVENANCE_LOG_LEVEL: 'info',
      MONGODB_URI: '',
      ...(ownPrefix ? { PROVENANCE_REDIS_PREFIX: ownPrefix } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const server: ServerProcess = {
    address: '',
    httpAddress: '',
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      if (ownPrefix) await deleteQueueKeys(ownPrefix, env.REDIS_URL ?? TEST_REDIS_URL);
      return code;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not start within ${STARTUP_TIMEOUT_MS} ms:\n${output}`));
    }, STARTUP_TIMEOUT_MS);
    const onData = () => {
      const started = ready.exec(output);
      if (!started) return progress?.(output);
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const httpAddress = /"httpAddress":"([^"]+)"/.exec(started[0])?.[1] ?? '';
      resolve({ ...server, address: started[1] ?? '', httpAddress });
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with code ${code} before serving:\n${output}`));
    });
  });
}

/**
 * Registers, in the describe it is called in, a hook that prints what the
 * server logged besides its info lines (its last 40) after a test that
 * failed: the errors that explain the failure.
 */
export function printServerWarningsOnFailure(server: () => ServerProcess | undefined): void {
  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    const lines = server()?.output().split('\n').filter((line) => line && !line.includes('"level":30')) ?? [];
    console.log(lines.slice(-40).join('\n'));
  });
}
