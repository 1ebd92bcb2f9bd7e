// Mounting the admin REST API in the Keyport Koa app (src/app.ts).
import type Koa from 'koa';
import type { Context, Next } from 'koa';
import type { Domain } from '../../domain/index.ts';
import type { AccessTokenVerifier } from '../../oauth/access-tokens.ts';
import { adminSessions } from '../session/index.ts';
import type { SignInFlow } from '../session/sign-in.ts';
import { ApiError, notFoundError, renderApiErrors } from './errors.ts';
import { API_PREFIX, createApiRouter } from './routes.ts';
import { nameRequestSpan } from '../../tracing.ts';

const isApiPath = (path: string) => path === API_PREFIX || path.startsWith(`${API_PREFIX}/`);

/**
 * Runs before the body parser for /api/v1: the JSON error boundary (so that bad
 * JSON and oversized bodies get the API's error shape), and the media type:
 * a request body must be application/json.
 */
export function apiBoundary() {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!isApiPath(ctx.path)) return next();
    await renderApiErrors(ctx, async () => {
      const hasBody = (ctx.request.length ?? 0) > 0 || ctx.get('Transfer-Encoding') !== '';
      if (hasBody && !['GET', 'HEAD', 'DELETE'].includes(ctx.method) && !ctx.is('application/json')) {
        throw new ApiError(415, 'unsupported_media_type', 'send the body as application/json');
      }
      await next();
      if (ctx.status === 404 && ctx.body == null) throw notFoundError('route');
    });
  };
}

export interface AdminApiOptions {
  domain: Domain;
  verifier: AccessTokenVerifier;
  /** The admin sign-in, shared with the web UI. */
  signIn: SignInFlow;
  secureCookies: boolean;
}

/** Sessions + the /api/v1 routes; mount after the body parser. */
export function adminApi(app: Koa, options: AdminApiOptions) {
  const router = createApiRouter({ domain: options.domain, verifier: options.verifier, signIn: options.signIn });
  const sessions = adminSessions(app, options.domain, { secureCookies: options.secureCookies, pathPrefixes: [API_PREFIX] });
  const routes = router.routes();
  const allowed = router.allowedMethods({ throw: true });
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!isApiPath(ctx.path)) return next();
    try {
      await sessions(ctx, () => routes(ctx as never, () => allowed(ctx as never, next)) as Promise<void>);
    } finally {
      // With traces on, the request's span takes the route's name (no ids in span names); otherwise a no-op.
      const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      if (typeof route === 'string') nameRequestSpan(ctx.method, route);
    }
  };
}
