// The one table of HTTP statuses for domain errors and an unavailable database
// (src/http/error-statuses.ts), which the API, the UI and the OAuth endpoints use.
import test from 'ava';
import mongoose from 'mongoose';
import { DatabaseUnavailableError, DATABASE_RETRY_AFTER_SECONDS, DomainError, type DomainErrorCode } from '../../src/domain/errors.ts';
import { API_ERROR_CODES } from '../../src/http/api/errors.ts';
import { DOMAIN_ERROR_STATUSES, httpFailureOf } from '../../src/http/error-statuses.ts';

const expected: Record<DomainErrorCode, [number, string]> = {
  not_found: [404, 'not_found'],
  invalid_input: [400, 'validation_failed'],
  conflict: [409, 'conflict'],
  forbidden: [403, 'forbidden'],
  unauthenticated: [401, 'unauthenticated'],
  previous_secret_in_use: [409, 'previous_secret_in_use'],
};

test('each domain error code has its status and public code', (t) => {
  for (const [code, [status, publicCode]] of Object.entries(expected) as [DomainErrorCode, [number, string]][]) {
    const failure = httpFailureOf(new DomainError(code, 'x', { a: 1 }));
    t.like(failure, { kind: 'domain', status, code: publicCode, domainCode: code, message: 'x', details: { a: 1 } }, code);
    t.true((API_ERROR_CODES as readonly string[]).includes(publicCode), `${publicCode} is an API error code`);
  }
  t.deepEqual(Object.keys(DOMAIN_ERROR_STATUSES).sort(), Object.keys(expected).sort());
});

test('an unavailable database is 503 with its Retry-After, also when a driver error says so', (t) => {
  t.like(httpFailureOf(new DatabaseUnavailableError()), { kind: 'database_unavailable', status: 503, code: 'database_unavailable', retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS });
  const driver = new mongoose.mongo.MongoNetworkError('connection closed');
  t.like(httpFailureOf(driver), { kind: 'database_unavailable', status: 503 });
  t.like(httpFailureOf(new Error('wrapped', { cause: driver })), { kind: 'database_unavailable', status: 503 });
});

test('anything else is not in the table (a server error, or a surface\'s own request error)', (t) => {
  t.is(httpFailureOf(new Error('bug')), null);
  t.is(httpFailureOf(Object.assign(new Error('too large'), { status: 413 })), null);
  t.is(httpFailureOf('string'), null);
  t.is(httpFailureOf(undefined), null);
});
