// OAuth error responses (RFC 6749 §5.2) for the endpoints Keyport serves itself.
import type { Context } from 'koa';
import { httpFailureOf } from '../http/error-statuses.ts';

export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly status: number;
  readonly error: string;
  /** Set for a failed HTTP Basic authentication: answered with WWW-Authenticate. */
  readonly basicChallenge: boolean;
  /** Answered with Retry-After. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, error: string, description: string, options: { basicChallenge?: boolean; retryAfterSeconds?: number } = {}) {
    super(description);
    this.status = status;
    this.error = error;
    this.basicChallenge = options.basicChallenge ?? false;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/**
 * The OAuth error code for "the database is unavailable, try again": RFC 6749
 * defines `temporarily_unavailable` for the authorization endpoint only, and
 * no code of its own for a token, introspection or revocation endpoint that
 * cannot answer now; `server_error` would say Keyport failed. Sent with 503
 * and Retry-After, which any HTTP client understands without knowing the code.
 */
export const UNAVAILABLE_ERROR = 'temporarily_unavailable';

export const invalidRequest = (description: string) => new OAuthError(400, 'invalid_request', description);

export function noStore(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
}

/**
 * A request error raised by HTTP middleware rather than by Keyport (a body too
 * large or malformed: http-errors and co-body set a 4xx `status`), or an
 * unavailable database, as an OAuth error; null for anything else (a server
 * error stays one).
 */
function fromRequestError(err: unknown): OAuthError | null {
  if (err instanceof OAuthError) return err;
  const failure = httpFailureOf(err);
  if (failure?.kind === 'database_unavailable') return new OAuthError(failure.status, UNAVAILABLE_ERROR, failure.message, { retryAfterSeconds: failure.retryAfterSeconds });
  const { status, message } = (typeof err === 'object' && err !== null ? err : {}) as { status?: unknown; message?: unknown };
  if (typeof status !== 'number' || status < 400 || status > 499) return null;
  return new OAuthError(status, 'invalid_request', typeof message === 'string' && message ? message : 'bad request');
}

/**
 * Koa middleware: renders OAuthError, request errors of the HTTP layer and a
 * method the route does not take (405, with its Allow header) as OAuth JSON
 * errors with the right status and headers.
 */
export async function renderOAuthErrors(ctx: Context, next: () => Promise<unknown>): Promise<void> {
  try {
    await next();
    if (ctx.status === 405 && ctx.body == null) throw new OAuthError(405, 'invalid_request', `use ${ctx.response.get('Allow') || 'POST'}`);
  } catch (caught) {
    const err = fromRequestError(caught);
    if (!err) throw caught;
    noStore(ctx);
    ctx.status = err.status;
    if (err.basicChallenge) ctx.set('WWW-Authenticate', `Basic realm="keyport", error="${err.error}"`);
    if (err.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(err.retryAfterSeconds));
    ctx.body = { error: err.error, error_description: err.message };
  }
}
