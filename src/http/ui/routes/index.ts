// The pages of the admin web UI. Routes are thin, like the REST API's: check the
// path's ids, ask the access policy (src/domain/access.ts), call one domain
// service, render a view or redirect (POST-redirect-GET). The only POST answers
// that render a page instead of redirecting are the ones that show a new secret.
//
// One router under /ui: the error pages and who is signed in, here; the pages,
// by what they are about, in ./session.ts, ./owners.ts, ./keypairs.ts, ./audit.ts, ./webhooks.ts.
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { httpFailureOf } from '../../error-statuses.ts';
import { crossSiteRequest, isStateChanging } from '../../session/index.ts';
import { capitalize, notFound, pageBase, refererBack, seeOther, session, UI_PREFIX, UiError, type Me, type UiDeps } from '../page-helpers.ts';
import { render } from '../render.ts';
import { auditRoutes } from './audit.ts';
import { keypairBulkRoutes } from './keypair-bulk.ts';
import { keypairKeyRoutes } from './keypair-keys.ts';
import { keypairTrustRoutes } from './keypair-trust.ts';
import { keypairRoutes } from './keypairs.ts';
import { ownerRoutes } from './owners.ts';
import { sessionRoutes } from './session.ts';
import { webhookRoutes } from './webhooks.ts';

export type { UiDeps };

export function createUiRouter(deps: UiDeps): Router {
  const { domain } = deps;
  const router = new Router({ prefix: UI_PREFIX });
  const base = pageBase(domain);

  // Error pages; and refuse cross-site form posts outright (defence in depth besides the CSRF token; the same check as the API's).
  router.use(async (ctx: Context, next: Next) => {
    try {
      if (isStateChanging(ctx.method) && crossSiteRequest(ctx)) {
        throw new UiError(403, 'Forbidden', 'Cross-site form submissions are refused.');
      }
      await next();
      if (ctx.status === 404 && ctx.body == null) throw notFound();
    } catch (err) {
      let error: UiError;
      const failure = err instanceof UiError ? null : httpFailureOf(err);
      if (err instanceof UiError) error = err;
      else if (failure?.kind === 'domain') {
        // The status comes from the shared table; the page says it in words.
        error = failure.status === 404 ? notFound()
          : failure.status === 403 ? new UiError(403, 'Not allowed', 'Only administrators of this account or environment can open this page or make this change.')
            : failure.status === 409 ? new UiError(409, 'Not possible now', capitalize(failure.message) + '.')
              : failure.status === 401 ? new UiError(401, 'Sign in', 'Sign in to continue.')
                : new UiError(failure.status, 'Not valid', capitalize(failure.message) + '.');
      } else throw err;
      if (error.status === 401) return seeOther(ctx, `${UI_PREFIX}/sign-in`);
      // A conflict is about a page the admin was on: link back to it (the route's own link, else a same-origin Referer).
      const back = error.back ?? (error.status === 409 ? refererBack(ctx) : null);
      render(ctx, 'error', { ...base(ctx, error.heading), heading: error.heading, message: error.message, status: error.status, back }, { status: error.status });
    }
  });

  // Who is signed in (the session is shared with the REST API).
  router.use(async (ctx: Context, next: Next) => {
    const s = session(ctx);
    if (s?.userId) {
      const user = await domain.users.findById(s.userId);
      if (user && s.csrf) {
        (ctx.state as { me?: Me }).me = { user, access: await domain.access.actorFor({ kind: 'user', userId: user.id, operator: user.operator }), csrf: s.csrf };
      } else {
        delete s.userId;
      }
    }
    await next();
  });

  sessionRoutes(router, deps);
  ownerRoutes(router, deps);
  keypairRoutes(router, deps);
  keypairKeyRoutes(router, deps);
  keypairBulkRoutes(router, deps);
  keypairTrustRoutes(router, deps);
  auditRoutes(router, deps);
  webhookRoutes(router, deps);
  return router;
}
