// Opens the database: MongoDB at MONGODB_URI, or the embedded FerretDB.
import mongoose, { type Connection } from 'mongoose';
import type { KeyportConfig } from '../config.ts';
import { startEmbeddedFerretdb, type DatabaseRole, type EmbeddedDatabase } from './embedded-ferretdb.ts';
import { registerModels, type Models } from './models/index.ts';

// Admin input reaches queries: `$`-operators in filters are neutralised (wrapped
// in $eq) and filter fields not in the schema throw (docs/architecture.md, Storage). The domain's
// own operators are marked with mongoose.trusted().
mongoose.set('sanitizeFilter', true);
mongoose.set('strictQuery', 'throw');

export interface Database {
  connection: Connection;
  models: Models;
  /** 'mongodb' for MONGODB_URI, 'ferretdb' for the embedded database. */
  kind: 'mongodb' | 'ferretdb';
  uri: string;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export async function openDatabase(config: KeyportConfig, role: DatabaseRole = 'server'): Promise<Database> {
  let embedded: EmbeddedDatabase | null = null;
  let uri = config.database.uri;
  if (!uri) {
    embedded = await startEmbeddedFerretdb({ dataDir: config.database.dataDir, ferretdbBin: config.database.ferretdbBin, sync: config.database.embeddedSync, role });
    uri = embedded.uri;
  }
  let connection: Connection;
  try {
    connection = await mongoose.createConnection(uri, {
      serverSelectionTimeoutMS: 10_000,
      autoIndex: false,
      autoCreate: false,
      maxPoolSize: 20,
    }).asPromise();
  } catch (err) {
    await embedded?.stop();
    throw new Error(`cannot connect to the database at ${redactUri(uri)}: ${(err as Error).message}`);
  }
  const models = registerModels(connection);
  await Promise.all(Object.values(models).map((model) => model.createIndexes()));
  return {
    connection,
    models,
    kind: embedded ? 'ferretdb' : 'mongodb',
    uri,
    async ping() {
      try {
        await connection.db!.admin().command({ ping: 1 });
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await connection.close();
      await embedded?.stop();
    },
  };
}

/** Hides the password of a connection string in messages and logs. */
export function redactUri(uri: string): string {
  return uri.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}
