// Errors of the admin REST API: one JSON shape, { error: { code, message, details } },
// with stable codes. Domain errors get their status and code from src/http/error-statuses.ts.
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { httpFailureOf } from '../error-statuses.ts';

export const API_ERROR_CODES = [
  'invalid_json',
  'invalid_request',
  'validation_failed',
  'unsupported_media_type',
  'payload_too_large',
  'unauthenticated',
  'csrf_failed',
  'cross_site_request',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'conflict',
  'previous_secret_in_use',
  'rate_limited',
  'internal_error',
  'database_unavailable',
] as const;
export type ApiErrorCode = typeof API_ERROR_CODES[number];

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly details: unknown;

  constructor(status: number, code: ApiErrorCode, message: string, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const notFoundError = (what = 'resource') => new ApiError(404, 'not_found', `${what} not found`);
export const unauthenticated = (message = 'sign in or send a Keyport access token') => new ApiError(401, 'unauthenticated', message);

export function validationError(error: z.ZodError, where: 'body' | 'query'): ApiError {
  return new ApiError(400, 'validation_failed', `the request ${where} is not valid`, {
    issues: error.issues.map((issue) => ({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message })),
  });
}

/** Errors thrown by the body parser (raw-body / co-body) carry an HTTP status and a type. */
function fromBodyParser(err: { status?: number; type?: string; message?: string }): ApiError | null {
  if (err.status === 413 || err.type === 'entity.too.large') return new ApiError(413, 'payload_too_large', 'the request body is too large');
  if (err.status === 415) return new ApiError(415, 'unsupported_media_type', 'send the body as application/json');
  if (err.status === 400 && (err.type === 'entity.parse.failed' || /JSON|Unexpected|token/i.test(err.message ?? ''))) {
    return new ApiError(400, 'invalid_json', 'the request body is not valid JSON (an object is expected)');
  }
  if (err.status === 405 || err.status === 501) return new ApiError(405, 'method_not_allowed', 'this method is not allowed on this path');
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) return new ApiError(err.status, 'invalid_request', 'the request could not be read');
  return null;
}

function toApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  const failure = httpFailureOf(err);
  if (failure?.kind === 'database_unavailable') return new ApiError(failure.status, failure.code, failure.message, { retryAfterSeconds: failure.retryAfterSeconds });
  if (failure) return new ApiError(failure.status, failure.code, failure.message, failure.details);
  if (err && typeof err === 'object') return fromBodyParser(err);
  return null;
}

/** Koa middleware for /api/: every failure becomes the JSON error shape. Mounted before the body parser. */
export async function renderApiErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    const apiError = toApiError(err);
    if (!apiError) ctx.app.emit('error', err, ctx);
    const e = apiError ?? new ApiError(500, 'internal_error', 'internal error');
    ctx.status = e.status;
    ctx.set('Cache-Control', 'no-store');
    if ((e.status === 429 || e.status === 503) && e.details && typeof (e.details as { retryAfterSeconds?: number }).retryAfterSeconds === 'number') {
      ctx.set('Retry-After', String((e.details as { retryAfterSeconds: number }).retryAfterSeconds));
    }
    if (e.status === 401) ctx.set('WWW-Authenticate', 'Bearer realm="keyport-admin-api"');
    ctx.body = { error: { code: e.code, message: e.message, details: e.details ?? null } };
  }
}
