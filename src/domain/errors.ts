// Errors of the domain layer, with stable codes that the HTTP layers map to statuses.
export type DomainErrorCode = 'not_found' | 'invalid_input' | 'conflict' | 'forbidden' | 'unauthenticated';

export class DomainError extends Error {
  override name = 'DomainError';
  readonly code: DomainErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: DomainErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const invalidInput = (message: string, details?: Record<string, unknown>) => new DomainError('invalid_input', message, details);

/** Seconds a caller is asked to wait (Retry-After) before trying again while the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/**
 * The database cannot be reached right now (stopped, restarting, unreachable).
 * Nothing was decided and the request may be repeated: every HTTP surface
 * answers 503 with Retry-After, never a 500. src/db/unavailable.ts says which
 * driver errors mean this.
 */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  readonly retryAfterSeconds = DATABASE_RETRY_AFTER_SECONDS;

  constructor(options?: { cause?: unknown }) {
    super('the database is unavailable; try again in a few seconds', options);
  }
}
