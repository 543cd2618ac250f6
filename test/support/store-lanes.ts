import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMongoLane, type MongoLane } from './mongo-lane.js';
import { startServer, type ServerProcess } from './server-process.js';

/** Where a suite that runs on both stores starts its server: on SQLite, or on MongoDB. */
export interface StoreLane {
  name: string;
  /** Whether the lane is the MongoDB emulator, which is quadratic on big graphs: suites ask it smaller questions. */
  emulated: boolean;
  start(): Promise<ServerProcess>;
  dispose(): Promise<void>;
}

/**
 * A server process on SQLite (a file in a fresh folder named after
 * folderPrefix) and one on MongoDB (MONGODB_URI when set, otherwise a
 * jongodb emulator started for the lane), both with env.
 */
export function storeLanes(folderPrefix: string, env: Record<string, string> = {}): [sqlite: StoreLane, mongo: StoreLane] {
  const directory = mkdtempSync(join(tmpdir(), folderPrefix));
  let mongo: MongoLane | undefined;
  return [
    {
      name: 'SQLite',
      emulated: false,
      start: () => startServer({ ...env, PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db') }),
      dispose: async () => rmSync(directory, { recursive: true, force: true }),
    },
    {
      name: process.env.MONGODB_URI ? 'MongoDB' : 'MongoDB emulator',
      emulated: !process.env.MONGODB_URI,
      async start() {
        mongo = await startMongoLane();
        return startServer({ ...env, MONGODB_URI: mongo.uri, PROVENANCE_MONGODB_DATABASE: mongo.newDatabaseName() });
      },
      dispose: async () => mongo?.stop(),
    },
  ];
}
