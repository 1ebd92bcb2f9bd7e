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

export const SESSION_COOKIE = 'keyport.sid';
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_MAX_AGE_MS = 8 * 60 * 60 * 1000;

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

/** The session middleware, for the paths of the admin surfaces only (the token endpoint never pays for it). */
export function adminSessions(app: Koa, domain: Domain, options: { secureCookies: boolean; pathPrefixes: string[] }): Middleware {
  const store = domain.sessions;
  const session = createSession({
    key: SESSION_COOKIE,
    maxAge: SESSION_MAX_AGE_MS,
    httpOnly: true,
    signed: false,
    sameSite: 'strict',
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
