// Errors of the domain layer, with stable codes that the HTTP layers map to statuses.
export type DomainErrorCode = 'not_found' | 'invalid_input' | 'conflict' | 'forbidden' | 'unauthenticated' | 'previous_secret_in_use';

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

// The database being unreachable is decided where the driver's errors are known
// (src/db/unavailable.ts); the HTTP layers learn of it through here.
export { DATABASE_RETRY_AFTER_SECONDS, DatabaseUnavailableError, databaseUnavailable } from '../db/unavailable.ts';
export { StoreConflictError } from '../db/contract.ts';
