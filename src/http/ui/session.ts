// Sessions of the web UI, kept in the admin session store (src/domain/sessions.ts,
// which stores only the SHA-256 of the cookie's key).
//
// Why not koa-session, which the REST API uses: koa-session supports one
// configuration per Koa app (it extends app.context once, with the options of
// the first instance), and the API's is SameSite=Strict on path "/". The UI
// needs SameSite=Lax (an admin following a link to a Keyport page from another
// site should arrive signed in; Lax still withholds the cookie from cross-site
// POSTs), so it has its own cookie, scoped to /ui, handled here.
import { randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { SESSION_MAX_AGE_MS } from '../../domain/limits.ts';
import type { AdminSessionStore } from '../../domain/sessions.ts';
import { publicPath } from '../public-base.ts';

export const UI_SESSION_COOKIE = 'keyport.ui';
const KEY = /^[A-Za-z0-9_-]{43}$/;

export interface UiSessionData {
  userId?: string;
  csrf?: string;
  flash?: string;
  /** One-time form ids already used (forms that issue a secret). */
  spent?: string[];
  /** Absolute end of the session (ms since the epoch), set at sign-in. */
  expires?: number;
}

export class UiSession {
  data: UiSessionData;
  readonly #initial: string;
  #destroy = false;
  #regenerate = false;

  constructor(data: UiSessionData) {
    this.data = data;
    this.#initial = JSON.stringify(data);
  }

  /** A new cookie key at the end of this request (sign-in: no session fixation). */
  regenerate(): void { this.#regenerate = true; }
  /** Sign-out: the stored session and the cookie go away. */
  destroy(): void { this.#destroy = true; }

  get destroyed(): boolean { return this.#destroy; }
  get regenerated(): boolean { return this.#regenerate; }
  get changed(): boolean { return JSON.stringify(this.data) !== this.#initial; }
}

export function uiSessionOf(ctx: Context): UiSession | null {
  return (ctx.state as { uiSession?: UiSession }).uiSession ?? null;
}

/** `path`: the UI's app path; the cookie's is that under the issuer's path. */
export function uiSessions(store: AdminSessionStore, options: { secure: boolean; path: string }) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: options.secure, path: publicPath(ctx, options.path), overwrite: true, signed: false };
    const presented = ctx.cookies.get(UI_SESSION_COOKIE);
    const key = presented && KEY.test(presented) ? presented : null;
    let data = key ? ((await store.get(key)) as UiSessionData | null) : null;
    if (data && typeof data.expires === 'number' && data.expires <= Date.now()) data = null;
    const session = new UiSession(data ? { ...data } : {});
    (ctx.state as { uiSession?: UiSession }).uiSession = session;
    try {
      await next();
    } finally {
      if (session.destroyed) {
        if (key) await store.destroy(key);
        ctx.cookies.set(UI_SESSION_COOKIE, '', { ...cookie, maxAge: 0 });
      } else if (session.regenerated || (session.changed && Object.keys(session.data).length)) {
        if (key && session.regenerated) await store.destroy(key);
        const newKey = key && !session.regenerated ? key : randomBytes(32).toString('base64url');
        const expires = session.data.expires ?? Date.now() + SESSION_MAX_AGE_MS;
        session.data.expires = expires;
        const maxAge = Math.max(1000, expires - Date.now());
        await store.set(newKey, session.data as Record<string, unknown>, maxAge);
        if (newKey !== key) ctx.cookies.set(UI_SESSION_COOKIE, newKey, { ...cookie, maxAge });
      }
    }
  };
}
