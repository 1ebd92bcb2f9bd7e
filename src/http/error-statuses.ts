// Which HTTP status each failure of the layers below HTTP gets, for every HTTP
// surface: the admin API, the web UI and the OAuth endpoints render these
// (JSON error, page, OAuth error) and map no domain error code themselves.
import { databaseUnavailable, DomainError, StoreConflictError, type DomainErrorCode } from '../domain/errors.ts';

/** Each domain error code: its HTTP status and its public code (the admin API's `error.code`). */
export const DOMAIN_ERROR_STATUSES = {
  not_found: { status: 404, code: 'not_found' },
  invalid_input: { status: 400, code: 'validation_failed' },
  conflict: { status: 409, code: 'conflict' },
  forbidden: { status: 403, code: 'forbidden' },
  unauthenticated: { status: 401, code: 'unauthenticated' },
  previous_secret_in_use: { status: 409, code: 'previous_secret_in_use' },
} as const satisfies Record<DomainErrorCode, { status: number; code: string }>;

/** The database cannot be reached: nothing was decided, try again after Retry-After. */
export const DATABASE_UNAVAILABLE_STATUS = { status: 503, code: 'database_unavailable' } as const;

type DomainFailure = (typeof DOMAIN_ERROR_STATUSES)[DomainErrorCode];

export type HttpFailure =
  | { kind: 'domain'; status: DomainFailure['status']; code: DomainFailure['code']; domainCode: DomainErrorCode; message: string; details: Record<string, unknown> | undefined }
  | { kind: 'database_unavailable'; status: 503; code: 'database_unavailable'; message: string; retryAfterSeconds: number };

/**
 * The status of a domain error or of an unavailable database (also when a
 * driver error, or what caused it, means one); null for anything else, which
 * each surface treats as its own (request errors) or as a server error.
 */
export function httpFailureOf(err: unknown): HttpFailure | null {
  if (err instanceof DomainError) {
    const { status, code } = DOMAIN_ERROR_STATUSES[err.code];
    return { kind: 'domain', status, code, domainCode: err.code, message: err.message, details: err.details };
  }
  if (err instanceof StoreConflictError) {
    const { status, code } = DOMAIN_ERROR_STATUSES.conflict;
    return { kind: 'domain', status, code, domainCode: 'conflict', message: err.message, details: undefined };
  }
  const unavailable = databaseUnavailable(err);
  if (unavailable) return { kind: 'database_unavailable', ...DATABASE_UNAVAILABLE_STATUS, message: unavailable.message, retryAfterSeconds: unavailable.retryAfterSeconds };
  return null;
}
