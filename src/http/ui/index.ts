// The admin web UI under /ui (docs/architecture.md, Admin surfaces): server-rendered pages from views/,
// on the domain layer and the same permission policy as the REST API
// (src/domain/access.ts). Plain forms with POST-redirect-GET; JavaScript only
// adds copy buttons and dialogs.
//
// Security:
// - Sessions: the admin session store (src/domain/sessions.ts) through
//   ./session.ts; the cookie is HttpOnly, SameSite=Lax, scoped to /ui, Secure
//   when the issuer is https.
// - CSRF: every form carries the session's CSRF token (_csrf); the sign-in and
//   setup forms, before there is a session, a double-submit token bound to a
//   SameSite=Strict cookie. Cross-site POSTs (Sec-Fetch-Site, Origin) are refused
//   outright, as in the REST API (crossSiteRequest in ../session/index.ts).
// - Content-Security-Policy without 'unsafe-inline': scripts and styles come
//   from the server's own files only; nothing loads from elsewhere.
// - Secrets are shown in the POST response that made them (Cache-Control:
//   no-store), never after a redirect, never in a URL or a log.
import type Koa from 'koa';
import type { Context, Next } from 'koa';
import helmet from 'koa-helmet';
import { httpFailureOf } from '../error-statuses.ts';
import type { Domain } from '../../domain/index.ts';
import { publicPath } from '../public-base.ts';
import type { SignInFlow } from '../session/sign-in.ts';
import { STATIC_FILES } from './render.ts';
import { renderNotFound, renderUnavailable, UI_PREFIX } from './page-helpers.ts';
import { createUiRouter } from './routes/index.ts';
import { uiSessions } from './session.ts';

export { UI_PREFIX };

export interface AdminUiOptions {
  domain: Domain;
  issuer: string;
  secureCookies: boolean;
  /** The admin sign-in, shared with the REST API. */
  signIn: SignInFlow;
}

const isUiPath = (path: string) => path === UI_PREFIX || path.startsWith(`${UI_PREFIX}/`);

function serveStatic(ctx: Context): boolean {
  const name = ctx.path.slice(`${UI_PREFIX}/static/`.length);
  const file = STATIC_FILES.get(name);
  if (!file || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return false;
  ctx.type = file.type;
  ctx.set('Cache-Control', ctx.query.v === file.hash ? 'public, max-age=31536000, immutable' : 'no-cache');
  ctx.set('ETag', `"${file.hash}"`);
  if (ctx.get('If-None-Match') === `"${file.hash}"`) {
    ctx.status = 304;
    return true;
  }
  ctx.body = file.body;
  return true;
}

/** The web UI: mount after the body parser. Also sends browsers that open "/" to the UI. */
export function adminUi(_app: Koa, options: AdminUiOptions) {
  const secure = options.secureCookies;
  const security = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        ...(secure ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: secure ? { maxAge: 31_536_000, includeSubDomains: false } : false,
    // same-origin, not no-referrer: under no-referrer browsers send "Origin: null"
    // on the UI's own form posts, and on plain http away from localhost (no
    // Sec-Fetch-Site there) such a post cannot be told from a cross-site one.
    // Other sites still get no referrer.
    referrerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
  const sessions = uiSessions(options.domain.sessions, { secure, path: UI_PREFIX });
  const router = createUiRouter({ domain: options.domain, issuer: options.issuer, signIn: options.signIn, secureCookies: secure });
  const routes = router.routes();
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.path === '/' && ctx.method === 'GET' && ctx.accepts('json', 'html') === 'html') {
      ctx.redirect(publicPath(ctx, `${UI_PREFIX}/`));
      return;
    }
    if (!isUiPath(ctx.path)) return next();
    // Behind a TLS-terminating proxy the connection itself is plain HTTP: cookies
    // are still marked Secure when the issuer is https.
    if (secure) ctx.cookies.secure = true;
    await security(ctx, async () => {
      if (ctx.path.startsWith(`${UI_PREFIX}/static/`) && serveStatic(ctx)) return;
      try {
        await sessions(ctx, async () => {
          await (routes(ctx as never, async () => {}) as Promise<void>);
          if (ctx.status === 404 && ctx.body == null) renderNotFound(ctx);
        });
      } catch (err) {
        // Reading the session needs the database too: this covers every page.
        const failure = httpFailureOf(err);
        if (failure?.kind !== 'database_unavailable') throw err;
        renderUnavailable(ctx, failure);
      }
    });
  };
}
