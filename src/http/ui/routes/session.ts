// Signing in and out, and the first setup (the first administrator, from the
// setup link Keyport prints while it has none). The sign-in and setup forms come
// before there is a session, so they carry a double-submit token bound to a
// SameSite=Strict cookie instead of the session's CSRF token.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { DEFAULT_ACCOUNT_NAME } from '../../../domain/bootstrap.ts';
import { DomainError } from '../../../domain/errors.ts';
import { EMAIL_MAX, PASSWORD_MAX } from '../../../domain/limits.ts';
import { publicPath } from '../../public-base.ts';
import { csrfMatches, newCsrfToken } from '../../session/index.ts';
import { capitalize, field, flash, form, me, pageBase, seeOther, signedIn, UI_PREFIX, UiError, type Me, type UiDeps } from '../page-helpers.ts';
import { render } from '../render.ts';
import { uiSessionOf } from '../session.ts';

/** The double-submit cookie of the forms shown before there is a session (sign-in, setup). */
const FORM_COOKIE = 'keyport.form';

/** A path inside the UI to return to after sign-in, or ''. */
function safeNext(value: string): string {
  return /^\/ui(\/[A-Za-z0-9_/-]*)?$/.test(value) && !value.includes('//') ? value : '';
}

/** /ui/, sign-in, sign-out and setup. */
export function sessionRoutes(router: Router, deps: UiDeps): void {
  const { domain } = deps;
  const base = pageBase(domain);

  const formCookieOptions = (ctx: Context) => ({ httpOnly: true, sameSite: 'strict' as const, path: publicPath(ctx, UI_PREFIX), secure: deps.secureCookies, overwrite: true, signed: false });
  /** The double-submit token of a form shown before sign-in: reuses the cookie's value, or sets a new one. */
  const preFormToken = (ctx: Context): string => {
    const existing = ctx.cookies.get(FORM_COOKIE);
    if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
    const token = newCsrfToken();
    ctx.cookies.set(FORM_COOKIE, token, { ...formCookieOptions(ctx), maxAge: 2 * 60 * 60 * 1000 });
    return token;
  };
  const checkPreForm = (ctx: Context) => {
    if (!csrfMatches(ctx.cookies.get(FORM_COOKIE), field(form(ctx), '_form') || undefined)) {
      throw new UiError(403, 'Form expired', 'This form has expired or did not come from Keyport. Go back, reload the page and try again.');
    }
  };

  router.get('/', async (ctx) => seeOther(ctx, (ctx.state as { me?: Me }).me ? `${UI_PREFIX}/accounts` : `${UI_PREFIX}/sign-in`));

  const signInPage = async (ctx: Context, extra: { error?: string; email?: string; status?: number } = {}) => {
    if ((ctx.state as { me?: Me }).me && !extra.error) return seeOther(ctx, `${UI_PREFIX}/accounts`);
    const next = safeNext(typeof ctx.query.next === 'string' ? ctx.query.next : field(form(ctx), 'next'));
    render(ctx, 'sign-in', {
      ...base(ctx, 'Sign in'),
      formToken: preFormToken(ctx),
      next,
      email: extra.email ?? '',
      error: extra.error ?? null,
      signedOut: ctx.query['signed-out'] === '1',
      needsSetup: await domain.bootstrap.needed(),
    }, { status: extra.status ?? 200 });
  };

  router.get('/sign-in', async (ctx) => signInPage(ctx));

  router.post('/sign-in', async (ctx) => {
    checkPreForm(ctx);
    const f = form(ctx);
    const email = field(f, 'email', EMAIL_MAX).trim();
    const password = field(f, 'password', PASSWORD_MAX);
    if (!email || !password) return signInPage(ctx, { error: 'Enter your email and password.', email, status: 400 });
    const result = await deps.signIn.signIn(email, password, ctx.ip, (user) => startSession(ctx, user.id));
    if (result.outcome === 'throttled') {
      ctx.set('Retry-After', String(result.retryAfterSeconds));
      return signInPage(ctx, { error: `Too many failed sign-ins. Try again in ${Math.ceil(result.retryAfterSeconds / 60)} min.`, email, status: 429 });
    }
    if (result.outcome === 'refused') return signInPage(ctx, { error: 'Wrong email or password.', email, status: 401 });
    seeOther(ctx, safeNext(field(f, 'next')) || `${UI_PREFIX}/accounts`);
  });

  router.post('/sign-out', signedIn, async (ctx) => {
    const { user } = me(ctx);
    uiSessionOf(ctx)?.destroy();
    await domain.users.recordSignOut(user.id);
    seeOther(ctx, `${UI_PREFIX}/sign-in?signed-out=1`);
  });

  const setupPage = async (ctx: Context, token: string, extra: { error?: string; email?: string; accountName?: string; status?: number } = {}) => {
    if (!(await domain.bootstrap.isValidSetupToken(token))) {
      throw new UiError(403, 'Setup link not valid', 'This setup link was used already, has expired, or was replaced by a newer one. Keyport prints a new link each time it starts while it has no administrator.');
    }
    render(ctx, 'setup', {
      ...base(ctx, 'Set up Keyport'),
      formToken: preFormToken(ctx),
      token,
      email: extra.email ?? '',
      accountName: extra.accountName ?? DEFAULT_ACCOUNT_NAME,
      error: extra.error ?? null,
    }, { status: extra.status ?? 200 });
  };

  router.get('/setup', async (ctx) => setupPage(ctx, typeof ctx.query.token === 'string' ? ctx.query.token : ''));

  router.post('/setup', async (ctx) => {
    checkPreForm(ctx);
    const f = form(ctx);
    const token = field(f, 'token', 200);
    const email = field(f, 'email', EMAIL_MAX).trim();
    const password = field(f, 'password', PASSWORD_MAX);
    const accountName = field(f, 'accountName', 200);
    if (password !== field(f, 'passwordAgain', PASSWORD_MAX)) return setupPage(ctx, token, { error: 'The two passwords differ.', email, accountName, status: 400 });
    let result;
    try {
      result = await domain.bootstrap.completeSetup(token, { email, password, accountName });
    } catch (err) {
      if (err instanceof DomainError && err.code === 'invalid_input') return setupPage(ctx, token, { error: capitalize(err.message) + '.', email, accountName, status: 400 });
      throw err;
    }
    await startSession(ctx, result.user.id);
    flash(ctx, `Welcome! You administer the account ${result.account.name}. Create an environment, or a keypair under Access management.`);
    seeOther(ctx, `${UI_PREFIX}/accounts/${result.account.id}`);
  });

  async function startSession(ctx: Context, userId: string): Promise<void> {
    const handle = uiSessionOf(ctx);
    if (!handle) throw new Error('sessions are not available');
    // A new session (and cookie key) at sign-in: no session fixation, nothing carried over.
    handle.data = { userId, csrf: newCsrfToken() };
    handle.regenerate();
    ctx.cookies.set(FORM_COOKIE, '', { ...formCookieOptions(ctx), maxAge: 0 });
  }
}
