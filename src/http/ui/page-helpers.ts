// What every page of the admin web UI shares: who is signed in, form fields,
// redirects and flash messages, one-time form ids, error pages, the layout's
// data, and the sign-in (and CSRF) check in front of the pages behind it.
import { randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { ActorAccess } from '../../domain/access.ts';
import type { Domain } from '../../domain/index.ts';
import type { UserView } from '../../domain/users.ts';
import { ID_PATTERNS } from '../../domain/credentials.ts';
import { publicOrigin, publicPath } from '../public-base.ts';
import { csrfMatches } from '../session/index.ts';
import type { SignInFlow } from '../session/sign-in.ts';
import { render, type Crumb, type PageBase } from './render.ts';
import { uiSessionOf, type UiSessionData } from './session.ts';

export const UI_PREFIX = '/ui';

export interface UiDeps {
  domain: Domain;
  issuer: string;
  signIn: SignInFlow;
  secureCookies: boolean;
}

export interface Me { user: UserView; access: ActorAccess; csrf: string }

/** A link on an error page: an app path ('/ui/keypairs/kp_…') and its words. */
export interface BackLink { href: string; label: string }

/** An error page with a status (403, 404, 409, 400); `back` links to the page the request came from. */
export class UiError extends Error {
  readonly status: number;
  readonly heading: string;
  readonly back: BackLink | null;
  constructor(status: number, heading: string, message: string, back: BackLink | null = null) {
    super(message);
    this.status = status;
    this.heading = heading;
    this.back = back;
  }
}

export const notFound = () => new UiError(404, 'Not found', 'This page does not exist, or you have no access to it.');

export function session(ctx: Context): UiSessionData | null {
  return uiSessionOf(ctx)?.data ?? null;
}

export function me(ctx: Context): Me {
  const state = ctx.state as { me?: Me };
  if (!state.me) throw new UiError(401, 'Sign in', 'Sign in to continue.');
  return state.me;
}

// ---- forms -------------------------------------------------------------------

export type Form = Record<string, unknown>;
/** Each request's form, parsed once. */
const parsedForms = new WeakMap<object, Form>();
/**
 * The posted form as a browser sends it: each name with its value, or with its
 * values in order when repeated (checkboxes). Read from the raw body, not from
 * the body parser's qs result, which turns more than 20 repeated fields into an
 * object and reads dots and brackets in names as nesting; the body parser's
 * formLimit bounds the size. Anything but a urlencoded form reads as empty.
 */
export function form(ctx: Context): Form {
  const known = parsedForms.get(ctx.request);
  if (known) return known;
  // No prototype: a field named __proto__ is a field like any other.
  const parsed: Record<string, string | string[]> = Object.create(null);
  const raw = (ctx.request as unknown as { rawBody?: unknown }).rawBody;
  if (typeof raw === 'string' && ctx.request.is('application/x-www-form-urlencoded')) {
    for (const [name, value] of new URLSearchParams(raw)) {
      const seen = parsed[name];
      if (seen === undefined) parsed[name] = value;
      else if (Array.isArray(seen)) seen.push(value);
      else parsed[name] = [seen, value];
    }
  }
  parsedForms.set(ctx.request, parsed);
  return parsed;
}
/** A single text field; anything else (a repeated field) reads as empty. */
export function field(f: Form, name: string, max = 2000): string {
  const value = Object.hasOwn(f, name) ? f[name] : undefined;
  return typeof value === 'string' && value.length <= max ? value : '';
}
/** A repeated field (checkboxes): every value sent, in order; the caller checks them. */
export function fields(f: Form, name: string): string[] {
  const value = Object.hasOwn(f, name) ? f[name] : undefined;
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((v): v is string => typeof v === 'string');
}

/** Redirects to an app path ('/ui/accounts'), under the issuer's path. */
export function seeOther(ctx: Context, location: string): void {
  ctx.redirect(publicPath(ctx, location));
  ctx.status = 303;
}

export function flash(ctx: Context, message: string): void {
  const s = session(ctx);
  if (s) s.flash = message;
}

/** A one-time id for a form that issues a secret. */
export const onceToken = () => randomBytes(18).toString('base64url');

/** Marks a one-time form id as used; false when it was used already (a resubmitted form). */
export function spend(ctx: Context, id: string): boolean {
  const s = session(ctx);
  if (!s || !/^[A-Za-z0-9_-]{24}$/.test(id)) return false;
  const spent = Array.isArray(s.spent) ? s.spent : [];
  if (spent.includes(id)) return false;
  s.spent = [...spent, id].slice(-50);
  return true;
}

export function checkId(kind: keyof typeof ID_PATTERNS, value: string | undefined): string {
  if (!value || !ID_PATTERNS[kind].test(value)) throw notFound();
  return value;
}

// ---- the layout, sign-in, error pages ----------------------------------------------

/** The data every page's layout needs: title, who is signed in, CSRF token, the flash message (shown once), breadcrumbs. */
export function pageBase(domain: Domain) {
  return (ctx: Context, title: string, crumbs: Crumb[] = []): PageBase & { now: Date } => {
    const s = session(ctx);
    const message = s?.flash ?? null;
    if (s && message) delete s.flash;
    const state = ctx.state as { me?: Me };
    return {
      title,
      user: state.me ? { id: state.me.user.id, email: state.me.user.email, operator: state.me.user.operator } : null,
      csrf: state.me?.csrf ?? null,
      flash: message,
      crumbs,
      now: domain.clock.now(),
    };
  };
}

/** Pages behind sign-in; every POST must carry the session's CSRF token. */
export const signedIn = async (ctx: Context, next: Next) => {
  const state = ctx.state as { me?: Me };
  if (!state.me) {
    if (ctx.method === 'GET') return seeOther(ctx, `${UI_PREFIX}/sign-in?next=${encodeURIComponent(ctx.path)}`);
    return seeOther(ctx, `${UI_PREFIX}/sign-in`);
  }
  if (ctx.method === 'POST' && !csrfMatches(state.me.csrf, field(form(ctx), '_csrf') || undefined)) {
    throw new UiError(403, 'Form expired', 'This form has expired or did not come from Keyport (missing or wrong CSRF token). Go back, reload the page and try again.');
  }
  await next();
};

/**
 * The UI page the browser came from, as an app path, from the Referer: only when it is
 * Keyport's own origin and under its own /ui path, so that an error page never links
 * elsewhere (no open redirect); null otherwise, or when it is the current page.
 */
export function refererBack(ctx: Context): BackLink | null {
  const referer = ctx.get('Referer');
  if (!referer) return null;
  let url: URL;
  try {
    url = new URL(referer);
  } catch {
    return null;
  }
  const uiRoot = publicPath(ctx, `${UI_PREFIX}/`);
  if (url.origin !== publicOrigin(ctx) || !url.pathname.startsWith(uiRoot)) return null;
  const appPath = `${UI_PREFIX}/${url.pathname.slice(uiRoot.length)}${url.search}`;
  if (appPath === ctx.url) return null;
  return { href: appPath, label: 'Back to the previous page' };
}

/** The 404 page for a path under /ui that no route serves. */
export function renderNotFound(ctx: Context): void {
  const error = notFound();
  render(ctx, 'error', { title: error.heading, user: null, csrf: null, flash: null, crumbs: [], heading: error.heading, message: error.message, status: 404 }, { status: 404 });
}

/** The page for a request that needed the database while it could not be reached: 503, with Retry-After. */
export function renderUnavailable(ctx: Context, failure: { status: number; retryAfterSeconds: number }): void {
  const heading = 'Temporarily unavailable';
  ctx.set('Retry-After', String(failure.retryAfterSeconds));
  render(ctx, 'error', { title: heading, user: null, csrf: null, flash: null, crumbs: [], heading, message: 'Keyport cannot reach its database right now. Try again in a few seconds.', status: failure.status }, { status: failure.status });
}

export function capitalize(text: string): string {
  return text ? text[0]!.toUpperCase() + text.slice(1) : text;
}
