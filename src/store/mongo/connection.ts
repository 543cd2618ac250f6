import { MongoClient, type Collection, type Document, type IndexDescription } from 'mongodb';
import { translateDriverError } from './errors.js';

export interface MongoConnectionOptions {
  uri: string;
  database: string;
  serverSelectionTimeoutMS?: number;
  appName?: string;
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
    appName: options.appName,
  });
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
