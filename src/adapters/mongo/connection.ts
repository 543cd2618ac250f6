import { MongoClient, type Collection, type CommandStartedEvent, type Document, type IndexDescription } from 'mongodb';
import { translateDriverError } from './errors.js';

/** The driver's own server selection timeout, used when none is configured. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface MongoConnectionOptions {
  uri: string;
  database: string;
  /** How long a call waits for a server to select, and for a new connection's handshake (PROVENANCE_STORE_TIMEOUT_MS). */
  serverSelectionTimeoutMS?: number;
  appName?: string;
  /** Called for every command sent to the server (driver command monitoring): how bench/ counts round trips. */
  onCommandStarted?: (event: CommandStartedEvent) => void;
}

/** A connected client and one collection of the database, with its indexes created (creating an existing index is a no-op). */
export async function connectCollection<T extends Document>(
  options: MongoConnectionOptions,
  name: string,
  indexes: IndexDescription[],
): Promise<{ client: MongoClient; collection: Collection<T> }> {
  const client = new MongoClient(options.uri, {
    ignoreUndefined: true,
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS,
    // A server that accepts connections but never answers would otherwise hold a call for the driver's 30 s default.
    ...(options.serverSelectionTimeoutMS !== undefined ? { connectTimeoutMS: options.serverSelectionTimeoutMS } : {}),
    appName: options.appName,
    monitorCommands: options.onCommandStarted !== undefined,
  });
  if (options.onCommandStarted) client.on('commandStarted', options.onCommandStarted);
  try {
    await client.connect();
    const collection = client.db(options.database).collection<T>(name);
    await collection.createIndexes(indexes);
    return { client, collection };
  } catch (error) {
    await client.close();
    throw translateDriverError(error);
  }
}
