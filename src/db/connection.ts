// Opens the database: MongoDB at MONGODB_URI, or the embedded FerretDB.
import mongoose, { type Connection } from 'mongoose';
import type { KeyportConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { startEmbeddedFerretdb, type DatabaseRole, type EmbeddedDatabase } from './embedded-ferretdb.ts';
import { registerModels, type Models } from './models/index.ts';
import { databaseUnavailable } from './unavailable.ts';

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
  /** True when the database answers within serverSelectionTimeoutMs. */
  ping(): Promise<boolean>;
  /** The embedded FerretDB's process id (null with MONGODB_URI, or while it is being restarted). */
  embeddedPid(): number | null;
  /** Called each time this process restarts the embedded database after it exited (never with MONGODB_URI). */
  onEmbeddedRestart(listener: () => void): void;
  close(): Promise<void>;
}

/** How long startup waits for the database: a server outlives a slow start of MongoDB; a CLI command fails sooner. */
const STARTUP_WAIT_MS: Record<DatabaseRole, number> = { server: 30_000, tool: 10_000 };
const STARTUP_RETRY_MS = 500;

/**
 * The driver's settings. A request that needs the database while it is down
 * must fail fast (503, src/db/unavailable.ts) rather than wait: mongoose does
 * not queue commands while disconnected (bufferCommands, which waited 10 s),
 * and an operation waits at most serverSelectionTimeoutMS for a server. The
 * driver checks the server every heartbeatFrequencyMS, and at once when an
 * operation is waiting, so it notices both the outage and the recovery by
 * itself. No socketTimeoutMS: a slow answer (a large listing) is not an
 * outage, and a server that stops answering is found by those checks, which
 * time out after connectTimeoutMS and then fail the operations waiting on it.
 */
function driverOptions(config: KeyportConfig, monitorCommands: boolean) {
  const { serverSelectionTimeoutMs, connectTimeoutMs, heartbeatFrequencyMs } = config.database;
  return {
    serverSelectionTimeoutMS: serverSelectionTimeoutMs,
    connectTimeoutMS: connectTimeoutMs,
    heartbeatFrequencyMS: heartbeatFrequencyMs,
    bufferCommands: false,
    autoIndex: false,
    autoCreate: false,
    maxPoolSize: 20,
    // Command events feed the database spans (src/tracing.ts); off unless traces are on.
    monitorCommands,
  };
}

/**
 * The first connection: tried again until the role's startup deadline while
 * the database is unreachable (it may still be starting), since one attempt
 * only waits serverSelectionTimeoutMS. Any other error (authentication, a bad
 * URI) ends it at once.
 */
async function connect(uri: string, config: KeyportConfig, role: DatabaseRole, log: Logger | undefined, monitorCommands: boolean): Promise<Connection> {
  const deadline = Date.now() + STARTUP_WAIT_MS[role];
  for (let attempt = 1; ; attempt++) {
    const connection = mongoose.createConnection(uri, driverOptions(config, monitorCommands));
    try {
      return await connection.asPromise();
    } catch (err) {
      await connection.close().catch(() => { /* it never opened */ });
      if (!databaseUnavailable(err) || Date.now() + STARTUP_RETRY_MS >= deadline) throw err;
      if (attempt === 1) log?.warn({ uri: redactUri(uri), err: { message: (err as Error).message } }, 'waiting for the database');
      await new Promise((resolve) => setTimeout(resolve, STARTUP_RETRY_MS));
    }
  }
}

export async function openDatabase(config: KeyportConfig, options: { role?: DatabaseRole; log?: Logger; monitorCommands?: boolean } = {}): Promise<Database> {
  const role = options.role ?? 'server';
  let embedded: EmbeddedDatabase | null = null;
  let uri = config.database.uri;
  if (!uri) {
    embedded = await startEmbeddedFerretdb({ dataDir: config.database.dataDir, ferretdbBin: config.database.ferretdbBin, sync: config.database.embeddedSync, role, log: options.log });
    uri = embedded.uri;
  }
  let connection: Connection;
  try {
    connection = await connect(uri, config, role, options.log, options.monitorCommands ?? false);
  } catch (err) {
    await embedded?.stop();
    throw new Error(`cannot connect to the database at ${redactUri(uri)}: ${(err as Error).message}`);
  }
  const models = registerModels(connection);
  await Promise.all(Object.values(models).map((model) => model.createIndexes()));
  const pingTimeoutMs = config.database.serverSelectionTimeoutMs;
  return {
    connection,
    models,
    kind: embedded ? 'ferretdb' : 'mongodb',
    uri,
    async ping() {
      try {
        // timeoutMS bounds the whole ping, a server that accepts but never answers included.
        await connection.db!.admin().command({ ping: 1 }, { timeoutMS: pingTimeoutMs });
        return true;
      } catch {
        return false;
      }
    },
    embeddedPid: () => embedded?.pid() ?? null,
    onEmbeddedRestart(listener) {
      embedded?.onRestart(listener);
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
