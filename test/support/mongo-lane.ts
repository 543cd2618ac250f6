import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { findFreePort } from './net.js';

/**
 * Where the MongoDB tests run: the server named by MONGODB_URI when it is
 * set, otherwise a jongodb emulator process started for the run.
 */
export interface MongoLane {
  uri: string;
  emulated: boolean;
  /** A database name no other run and no other test of this run uses. */
  newDatabaseName(): string;
  dropDatabase(name: string): Promise<void>;
  /** Drops what is left of this run's databases and releases the server. */
  stop(): Promise<void>;
}

/** A jongodb process of its own: killing it is how a test takes the database away. */
export interface EmulatorProcess {
  uri: string;
  /** Kills the process and waits until it has exited; later calls do nothing. */
  stop(): Promise<void>;
}

const EMULATOR_BINARY = join(
  dirname(createRequire(import.meta.url).resolve('@jongodb/memory-server-bin-linux-x64-gnu/package.json')),
  'bin',
  'jongodb',
);
/** Generous: the emulator starts in a few seconds, but many times that beside CPU-bound processes. */
const STARTUP_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 5_000;
const STDERR_TAIL_CHARS = 4_000;

export async function startMongoLane(): Promise<MongoLane> {
  const external = process.env.MONGODB_URI;
  const emulator = external ? undefined : await startEmulatorProcess();
  const uri = external ?? emulator!.uri;
  const admin = new MongoClient(uri);
  try {
    await admin.connect();
  } catch (error) {
    await emulator?.stop();
    throw error;
  }

  const prefix = `provtest_${process.pid}_${randomBytes(4).toString('hex')}_`;
  const created = new Set<string>();
  let counter = 0;

  async function dropDatabase(name: string): Promise<void> {
    created.delete(name);
    // The emulator has neither dropDatabase, drop nor listCollections; its data goes with the process.
    if (!emulator) await admin.db(name).dropDatabase();
  }

  return {
    uri,
    emulated: emulator !== undefined,
    newDatabaseName() {
      const name = `${prefix}${++counter}`;
      created.add(name);
      return name;
    },
    dropDatabase,
    async stop() {
      try {
        if (!emulator) for (const name of [...created]) await dropDatabase(name);
      } finally {
        await admin.close();
        await emulator?.stop();
      }
    },
  };
}

/** Starts a jongodb emulator on a free loopback port and resolves once it accepts connections. */
export async function startEmulatorProcess(): Promise<EmulatorProcess> {
  const port = await findFreePort();
  const child = spawn(EMULATOR_BINARY, ['--host=127.0.0.1', `--port=${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  // A test process that dies without stopping its lane must not leave emulators behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  let stderrTail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    // No pid: the process never started, so there is no exit to wait for.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
      await exited;
      clearTimeout(forced);
    }
  };

  try {
    const announced = await waitForUri(child, exited, () => stderrTail);
    const separator = announced.includes('?') ? '&' : '?';
    return { uri: `${announced}${separator}directConnection=true`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function waitForUri(child: ChildProcess, exited: Promise<void>, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`jongodb emulator ${reason}; stderr: ${stderr() || '(empty)'}`));
    };
    const timer = setTimeout(() => fail(`printed no JONGODB_URI line within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    child.once('error', (error) => fail(`could not be started (${error.message})`));
    void exited.then(() => fail(`exited before it was ready (code ${child.exitCode}, signal ${child.signalCode})`));
    child.stdout!.setEncoding('utf8');
    // Keeps reading after the line, so that a full pipe never blocks the emulator.
    child.stdout!.on('data', (chunk: string) => {
      if (settled) return;
      stdout += chunk;
      const match = /JONGODB_URI=(\S+)/.exec(stdout);
      if (!match) return;
      settled = true;
      clearTimeout(timer);
      resolve(match[1]!);
    });
  });
}
