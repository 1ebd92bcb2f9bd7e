// Which database errors mean "unavailable right now", as opposed to a bug or
// bad input: the driver found no server within serverSelectionTimeoutMS, lost
// or could not open a connection, or the server is shutting down or stepping
// down. They become one DatabaseUnavailableError, which the HTTP layers answer
// with 503 and Retry-After. Only looked at when an error has happened: nothing
// is checked on a request's way in.
import mongoose from 'mongoose';

const { mongo } = mongoose;

/** Seconds a caller is asked to wait (Retry-After) before trying again while the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/**
 * The database cannot be reached right now (stopped, restarting, unreachable).
 * Nothing was decided and the request may be repeated: every HTTP surface
 * answers 503 with Retry-After, never a 500. databaseUnavailable() below says
 * which driver errors mean this.
 */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  readonly retryAfterSeconds = DATABASE_RETRY_AFTER_SECONDS;

  constructor(options?: { cause?: unknown }) {
    super('the database is unavailable; try again in a few seconds', options);
  }
}


const UNAVAILABLE_CLASSES: (abstract new (...args: never[]) => Error)[] = [
  mongo.MongoNetworkError, // with its subclasses: MongoNetworkTimeoutError, PoolClearedError
  mongo.MongoServerSelectionError,
  mongo.MongoNotConnectedError,
  mongo.MongoTopologyClosedError,
  mongo.MongoServerClosedError,
  mongo.MongoClientClosedError,
  mongo.MongoOperationTimeoutError,
  mongoose.Error.MongooseServerSelectionError,
];
/** Driver errors it does not export. */
const UNAVAILABLE_NAMES = new Set(['PoolClosedError', 'WaitQueueTimeoutError']);
/**
 * Server error codes of a server that cannot serve now (the driver's own
 * "state change" codes): HostUnreachable, HostNotFound, NetworkTimeout,
 * ShutdownInProgress, PrimarySteppedDown, SocketException, NotWritablePrimary,
 * InterruptedAtShutdown, InterruptedDueToReplStateChange,
 * NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
 */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);
/**
 * Socket errors the driver lets through unwrapped (a write to a connection the
 * server has just closed rejects with Node's own EPIPE error).
 */
const SOCKET_ERROR_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function isUnavailable(err: Error): boolean {
  if (UNAVAILABLE_CLASSES.some((type) => err instanceof type) || UNAVAILABLE_NAMES.has(err.name)) return true;
  if (err instanceof mongo.MongoServerError) return UNAVAILABLE_CODES.has(Number(err.code));
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && SOCKET_ERROR_CODES.has(code);
}

/** The error as a DatabaseUnavailableError when it (or what caused it) means the database is unreachable; null otherwise. */
export function databaseUnavailable(err: unknown): DatabaseUnavailableError | null {
  for (let cause = err, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause instanceof DatabaseUnavailableError) return cause;
    if (isUnavailable(cause)) return new DatabaseUnavailableError({ cause });
  }
  return null;
}
