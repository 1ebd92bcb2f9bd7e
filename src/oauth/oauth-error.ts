// OAuth error responses (RFC 6749 §5.2) for the endpoints Keyport serves itself.
import type { Context } from 'koa';

export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly status: number;
  readonly error: string;
  /** Set for a failed HTTP Basic authentication: answered with WWW-Authenticate. */
  readonly basicChallenge: boolean;

  constructor(status: number, error: string, description: string, options: { basicChallenge?: boolean } = {}) {
    super(description);
    this.status = status;
    this.error = error;
    this.basicChallenge = options.basicChallenge ?? false;
  }
}

export const invalidRequest = (description: string) => new OAuthError(400, 'invalid_request', description);

export function noStore(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
}

/** Koa middleware: renders OAuthError as JSON with the right status and headers. */
export async function renderOAuthErrors(ctx: Context, next: () => Promise<unknown>): Promise<void> {
  try {
    await next();
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    noStore(ctx);
    ctx.status = err.status;
    if (err.basicChallenge) ctx.set('WWW-Authenticate', `Basic realm="keyport", error="${err.error}"`);
    ctx.body = { error: err.error, error_description: err.message };
  }
}
