// Admin sessions: koa-session with the database-backed store of
// src/domain/sessions.ts, and the CSRF token that every state-changing request
// made with the session cookie must carry (header X-CSRF-Token).
//
// The cookie holds only a random 256-bit session key (no data): it is not
// signed, because nothing about an unguessable random key could be forged, and
// the store keeps the key's SHA-256 only. HttpOnly, SameSite=Strict, Secure
// when the issuer is https.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import type { Context, Middleware } from 'koa';
import createSession from 'koa-session';
import type { Domain } from '../../domain/index.ts';
import { SESSION_MAX_AGE_MS } from '../../domain/limits.ts';
import { basePath, publicOrigin } from '../public-base.ts';

export const SESSION_COOKIE = 'keyport.sid';
export const CSRF_HEADER = 'x-csrf-token';

/** What Keyport keeps in a session. */
export interface AdminSessionData {
  userId?: string;
  csrf?: string;
}

type SessionObject = AdminSessionData & { regenerate(): Promise<void> | undefined; save(): Promise<void> | undefined };

export function sessionOf(ctx: Context): SessionObject | null {
  const session = (ctx as unknown as { session?: SessionObject | null }).session;
  return session ?? null;
}

/** Ends the session: koa-session deletes it from the store and clears the cookie. */
export function endSession(ctx: Context): void {
  (ctx as unknown as { session: null }).session = null;
}

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

export function csrfMatches(expected: string | undefined, presented: string | undefined): boolean {
  if (!expected || !presented) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(presented, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export const isStateChanging = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());

/**
 * Why a request made with a session cookie (the web UI's or the API's) comes
 * from another site, or null: the one check both surfaces apply to their
 * state-changing requests, besides the CSRF token. Browsers say where a request
 * comes from (Sec-Fetch-Site; Origin on every POST, PATCH, DELETE). Allowed:
 * - an Origin that is Keyport's own: the issuer's origin (what browsers send
 *   behind a proxy) or this request's own origin (Keyport reached directly, e.g.
 *   on 127.0.0.1 while the derived issuer says localhost), which another site
 *   cannot forge;
 * - "Origin: null" only with "Sec-Fetch-Site: same-origin" (a page served with
 *   Referrer-Policy: no-referrer, as Keyport's were before; Keyport's pages now
 *   say same-origin, so browsers send their real origin); from anywhere else
 *   (sandboxed frames, data: URLs) null is refused;
 * - no Origin at all (curl, scripts: not a browser acting for someone).
 */
export function crossSiteRequest(ctx: Context): string | null {
  const site = ctx.get('Sec-Fetch-Site');
  if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site: ${site}`;
  const origin = ctx.get('Origin');
  if (!origin) return null;
  if (origin === 'null') return site === 'same-origin' ? null : 'Origin: null';
  // Not ctx.origin: in Koa 3 that is the Origin header itself.
  if (origin === publicOrigin(ctx) || origin === `${ctx.protocol}://${ctx.host}`) return null;
  return `Origin: ${origin}`;
}

/** The session middleware, for the paths of the admin surfaces only (the token endpoint never pays for it). */
export function adminSessions(app: Koa, domain: Domain, options: { secureCookies: boolean; pathPrefixes: string[] }): Middleware {
  const store = domain.sessions;
  const session = createSession({
    key: SESSION_COOKIE,
    maxAge: SESSION_MAX_AGE_MS,
    httpOnly: true,
    signed: false,
    sameSite: 'strict',
    // A cookie option koa-session passes on (its typings omit it): the whole of
    // Keyport, and nothing else on the host when Keyport runs under a path.
    ...{ path: basePath(app.context) || '/' },
    secure: options.secureCookies,
    rolling: false,
    renew: true,
    autoCommit: true,
    genid: () => randomBytes(32).toString('base64url'),
    store: {
      get: async (key: string) => store.get(key),
      set: async (key: string, data: Record<string, unknown>, maxAge: number) => {
        await store.set(key, data, typeof maxAge === 'number' && maxAge > 0 ? maxAge : SESSION_MAX_AGE_MS);
      },
      destroy: async (key: string) => {
        await store.destroy(key);
      },
    },
  }, app);
  return async (ctx, next) => {
    if (!options.pathPrefixes.some((prefix) => ctx.path.startsWith(prefix))) return next();
    // Behind a TLS-terminating proxy the connection itself is plain HTTP: cookies
    // are still marked Secure when the issuer is https.
    if (options.secureCookies) ctx.cookies.secure = true;
    return session(ctx, next);
  };
}
