// The pages of the admin web UI. Routes are thin, like the REST API's: check the
// path's ids, ask the access policy (src/domain/access.ts), call one domain
// service, render a view or redirect (POST-redirect-GET). The only POST answers
// that render a page instead of redirecting are the ones that show a new secret.
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { can, canCreateAccount, reach, type Action, type ActorAccess, type Target } from '../../domain/access.ts';
import { isAuditCursor, type AuditEventView } from '../../domain/audit.ts';
import { DEFAULT_ACCOUNT_NAME } from '../../domain/bootstrap.ts';
import { ID_PATTERNS } from '../../domain/credentials.ts';
import { DomainError } from '../../domain/errors.ts';
import { httpFailureOf } from '../error-statuses.ts';
import type { Domain } from '../../domain/index.ts';
import type { KeypairStatus, KeypairView } from '../../domain/keypairs.ts';
import { DEFAULT_GRACE, EMAIL_MAX, GRACE_PERIOD_NAMES, GRACE_PERIODS, PASSWORD_MAX, type GracePeriod } from '../../domain/limits.ts';
import type { AccountView, EnvironmentView, Owner } from '../../domain/owners.ts';
import type { UserView } from '../../domain/users.ts';
import { publicPath } from '../public-base.ts';
import { crossSiteRequest, csrfMatches, isStateChanging, newCsrfToken } from '../session/index.ts';
import type { SignInFlow } from '../session/sign-in.ts';
import { render, type Crumb, type PageBase } from './render.ts';
import { uiSessionOf, type UiSessionData } from './session.ts';

export const UI_PREFIX = '/ui';
const PAGE_SIZE = 20;
/** The double-submit cookie of the forms shown before there is a session (sign-in, setup). */
const FORM_COOKIE = 'keyport.form';
const KEYPAIR_STATUSES: KeypairStatus[] = ['enabled', 'disabled', 'locked'];
const hours = (ms: number) => `${ms / 3_600_000} hour${ms === 3_600_000 ? '' : 's'}`;
const ROTATE_CHOICES: { value: GracePeriod; label: string }[] = GRACE_PERIOD_NAMES.map((value) => ({
  value,
  label: value === '0' ? 'Rotate immediately (the current secret stops working now)' : `Keep the current secret for ${hours(GRACE_PERIODS[value])}`,
}));

export interface UiDeps {
  domain: Domain;
  issuer: string;
  signIn: SignInFlow;
  secureCookies: boolean;
}

interface Me { user: UserView; access: ActorAccess; csrf: string }

/** An error page with a status (403, 404, 409, 400). */
class UiError extends Error {
  readonly status: number;
  readonly heading: string;
  constructor(status: number, heading: string, message: string) {
    super(message);
    this.status = status;
    this.heading = heading;
  }
}

const notFound = () => new UiError(404, 'Not found', 'This page does not exist, or you have no access to it.');

function session(ctx: Context): UiSessionData | null {
  return uiSessionOf(ctx)?.data ?? null;
}

function me(ctx: Context): Me {
  const state = ctx.state as { me?: Me };
  if (!state.me) throw new UiError(401, 'Sign in', 'Sign in to continue.');
  return state.me;
}

// ---- forms -------------------------------------------------------------------

type Form = Record<string, unknown>;
function form(ctx: Context): Form {
  const body = (ctx.request as unknown as { body?: unknown }).body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Form) : {};
}
/** A single text field; anything else (an array, an object) reads as empty. */
function field(f: Form, name: string, max = 2000): string {
  const value = Object.hasOwn(f, name) ? f[name] : undefined;
  return typeof value === 'string' && value.length <= max ? value : '';
}
/** A repeated field (checkboxes). */
function fields(f: Form, name: string): string[] {
  const value = Object.hasOwn(f, name) ? f[name] : undefined;
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((v): v is string => typeof v === 'string' && v.length <= 200).slice(0, 100);
}

/** Redirects to an app path ('/ui/accounts'), under the issuer's path. */
function seeOther(ctx: Context, location: string): void {
  ctx.redirect(publicPath(ctx, location));
  ctx.status = 303;
}

function flash(ctx: Context, message: string): void {
  const s = session(ctx);
  if (s) s.flash = message;
}

/** A one-time id for a form that issues a secret. */
const onceToken = () => randomBytes(18).toString('base64url');

/** Marks a one-time form id as used; false when it was used already (a resubmitted form). */
function spend(ctx: Context, id: string): boolean {
  const s = session(ctx);
  if (!s || !/^[A-Za-z0-9_-]{24}$/.test(id)) return false;
  const spent = Array.isArray(s.spent) ? s.spent : [];
  if (spent.includes(id)) return false;
  s.spent = [...spent, id].slice(-50);
  return true;
}

function checkId(kind: keyof typeof ID_PATTERNS, value: string | undefined): string {
  if (!value || !ID_PATTERNS[kind].test(value)) throw notFound();
  return value;
}

// ---- owners ------------------------------------------------------------------

type Kind = 'account' | 'environment';

interface OwnerPage {
  kind: Kind;
  owner: Owner;
  target: Target;
  account: AccountView;
  environment: EnvironmentView | null;
  name: string;
  /** /ui/accounts/<id> or /ui/environments/<id> */
  base: string;
  active: boolean;
  role: 'admin' | 'member' | 'visitor' | null;
  may: { read: boolean; manage: boolean; audit: boolean; close: boolean; createEnvironment: boolean };
  crumbs: Crumb[];
}

async function ownerPage(domain: Domain, access: ActorAccess, target: Target): Promise<OwnerPage> {
  const account = await domain.owners.getAccount(target.accountId);
  const environment = target.type === 'environment' ? await domain.owners.getEnvironment(target.environmentId) : null;
  const active = target.status === 'active' && (target.type === 'account' || target.accountStatus === 'active');
  const allowed = (action: Action) => can(access, action, target) === 'allow';
  const accountBase = `${UI_PREFIX}/accounts/${account.id}`;
  const base = environment ? `${UI_PREFIX}/environments/${environment.id}` : accountBase;
  const crumbs: Crumb[] = [{ label: 'Accounts', href: `${UI_PREFIX}/accounts` }, { label: account.name, href: accountBase }];
  if (environment) crumbs.push({ label: environment.name, href: base });
  return {
    kind: target.type,
    owner: target.type === 'account'
      ? { type: 'account', accountId: target.accountId, environmentId: null }
      : { type: 'environment', accountId: target.accountId, environmentId: target.environmentId },
    target,
    account,
    environment,
    name: environment ? environment.name : account.name,
    base,
    active,
    role: reach(access, target),
    may: {
      read: allowed('keypairs.read'),
      manage: allowed('keypairs.manage') && active,
      audit: allowed('audit.read'),
      close: allowed('owner.close') && target.status !== 'closed',
      createEnvironment: allowed('environment.create') && active,
    },
    crumbs,
  };
}

async function authorizeOwner(ctx: Context, domain: Domain, kind: Kind, action: Action): Promise<OwnerPage> {
  const params = (ctx as unknown as { params: Record<string, string> }).params;
  const ref = kind === 'account' ? { accountId: checkId('accountId', params.id) } : { environmentId: checkId('environmentId', params.id) };
  const { access } = me(ctx);
  const { target } = await domain.access.authorize(access, action, ref);
  return ownerPage(domain, access, target);
}

/** A well-formed audit page cursor from the query string, if any. */
function auditCursor(ctx: Context): string | undefined {
  const cursor = ctx.query.cursor;
  return typeof cursor === 'string' && cursor.length <= 200 && isAuditCursor(cursor) ? cursor : undefined;
}

async function authorizeKeypair(ctx: Context, domain: Domain, action: Action): Promise<{ keypair: KeypairView; page: OwnerPage }> {
  const params = (ctx as unknown as { params: Record<string, string> }).params;
  const keyId = checkId('keyId', params.keyId);
  const { access } = me(ctx);
  const { target, keypair } = await domain.access.authorize(access, action, { keyId });
  return { keypair: keypair!, page: await ownerPage(domain, access, target) };
}

// ---- the router ------------------------------------------------------------------

export function createUiRouter(deps: UiDeps): Router {
  const { domain } = deps;
  const router = new Router({ prefix: UI_PREFIX });

  const base = (ctx: Context, title: string, crumbs: Crumb[] = []): PageBase & { now: Date } => {
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
      render(ctx, 'error', { ...base(ctx, error.heading), heading: error.heading, message: error.message, status: error.status }, { status: error.status });
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

  /** Pages behind sign-in; every POST must carry the session's CSRF token. */
  const signedIn = async (ctx: Context, next: Next) => {
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

  // ---- sign-in, sign-out, setup ----

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

  // ---- accounts and environments ----

  router.get('/accounts', signedIn, async (ctx) => {
    const { access } = me(ctx);
    const accounts = await domain.access.visibleAccounts(access);
    render(ctx, 'accounts', {
      ...base(ctx, 'Accounts', [{ label: 'Accounts' }]),
      accounts: accounts.map((a) => ({ ...a, role: reach(access, { type: 'account', accountId: a.id, environmentId: null }) })),
      mayCreateAccount: canCreateAccount(access),
    });
  });

  router.post('/accounts', signedIn, async (ctx) => {
    const { access } = me(ctx);
    if (!canCreateAccount(access)) throw new UiError(403, 'Not allowed', 'Only operators of this Keyport can create accounts.');
    const account = await domain.access.createAccount(access, { name: field(form(ctx), 'name', 200) });
    flash(ctx, `Account ${account.name} created. You are its administrator.`);
    seeOther(ctx, `${UI_PREFIX}/accounts/${account.id}`);
  });

  for (const kind of ['account', 'environment'] as const) {
    const path = kind === 'account' ? '/accounts/:id' : '/environments/:id';

    router.get(path, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'owner.read');
      const { access } = me(ctx);
      const environments = kind === 'account'
        ? (await domain.access.visibleEnvironments(access, page.account.id)).map((env) => ({
          ...env,
          role: reach(access, { type: 'environment', accountId: env.accountId, environmentId: env.id }),
        }))
        : [];
      render(ctx, 'owner', { ...base(ctx, page.name, page.crumbs), page, environments, section: 'overview' });
    });

    router.get(`${path}/access`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'keypairs.read');
      const [keypairs, members] = await Promise.all([
        domain.keypairs.list(page.owner, { limit: 1, offset: 0 }),
        domain.users.listMembers(page.owner),
      ]);
      render(ctx, 'access', {
        ...base(ctx, `Access management · ${page.name}`, [...page.crumbs, { label: 'Access management' }]),
        page, section: 'access', keypairCount: keypairs.total, members,
      });
    });

    router.get(`${path}/keypairs`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'keypairs.read');
      const status = KEYPAIR_STATUSES.find((s) => s === ctx.query.status);
      const pageNumber = Math.min(100_000, Math.max(1, Number.parseInt(String(ctx.query.page ?? '1'), 10) || 1));
      const list = await domain.keypairs.list(page.owner, { limit: PAGE_SIZE, offset: (pageNumber - 1) * PAGE_SIZE, ...(status ? { status } : {}) });
      const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
      const query = (p: number, s = status) => {
        const q = new URLSearchParams();
        if (s) q.set('status', s);
        if (p > 1) q.set('page', String(p));
        const text = q.toString();
        return `${page.base}/keypairs${text ? `?${text}` : ''}`;
      };
      render(ctx, 'keypairs', {
        ...base(ctx, `API management · ${page.name}`, [...page.crumbs, { label: 'Access management', href: `${page.base}/access` }, { label: 'API management' }]),
        page, section: 'access', keypairs: list.items, total: list.total, status: status ?? '', pageNumber, pages,
        filters: [{ label: 'All', value: '' }, ...KEYPAIR_STATUSES.map((s) => ({ label: capitalize(s), value: s }))].map((f) => ({ ...f, href: query(1, (f.value || undefined) as KeypairStatus | undefined) })),
        prevHref: pageNumber > 1 ? query(pageNumber - 1) : null,
        nextHref: pageNumber < pages ? query(pageNumber + 1) : null,
      });
    });

    const newKeypairPage = async (ctx: Context, page: OwnerPage, extra: { error?: string; values?: { name: string; comment: string; scopes: string[] }; status?: number } = {}) => {
      render(ctx, 'keypair-new', {
        ...base(ctx, `New keypair · ${page.name}`, [...page.crumbs, { label: 'API management', href: `${page.base}/keypairs` }, { label: 'New keypair' }]),
        page, section: 'access',
        scopes: domain.scopes.forLevel(page.kind),
        values: extra.values ?? { name: '', comment: '', scopes: [] },
        error: extra.error ?? null,
        once: onceToken(),
      }, { status: extra.status ?? 200 });
    };

    router.get(`${path}/keypairs/new`, signedIn, async (ctx) => {
      newKeypairPage(ctx, await authorizeOwner(ctx, domain, kind, 'keypairs.manage'));
    });

    router.post(`${path}/keypairs`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'keypairs.manage');
      const f = form(ctx);
      const values = { name: field(f, 'name', 200), comment: field(f, 'comment', 5000), scopes: fields(f, 'scopes') };
      if (!spend(ctx, field(f, 'once', 100))) return alreadySubmitted(ctx, page);
      let issued;
      try {
        issued = await domain.keypairs.create(kind === 'account' ? { accountId: page.account.id } : { environmentId: page.environment!.id }, values, me(ctx).access.actor);
      } catch (err) {
        if (err instanceof DomainError && err.code === 'invalid_input') return newKeypairPage(ctx, page, { error: capitalize(err.message) + '.', values, status: 400 });
        throw err;
      }
      secretPage(ctx, page, issued.keypair, issued.secret, 'created');
    });

    router.get(`${path}/audit`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'audit.read');
      const cursor = auditCursor(ctx);
      const filter = kind === 'account' ? { accountId: page.account.id } : { environmentId: page.environment!.id };
      const events = await domain.audit.page(filter, { limit: 50, ...(cursor ? { cursor } : {}) });
      render(ctx, 'audit', {
        ...base(ctx, `Audit trail · ${page.name}`, [...page.crumbs, { label: 'Audit trail' }]),
        page, section: 'audit',
        subject: kind === 'account' ? 'account and its environments' : 'environment',
        events: await describeEvents(domain, events.items),
        nextHref: events.nextCursor ? `${page.base}/audit?cursor=${encodeURIComponent(events.nextCursor)}` : null,
        firstHref: cursor ? `${page.base}/audit` : null,
      });
    });

    const closePage = async (ctx: Context, page: OwnerPage, extra: { error?: string; status?: number } = {}) => {
      let count = (await domain.keypairs.list(page.owner, { limit: 1, offset: 0 })).total;
      let environments: EnvironmentView[] = [];
      if (kind === 'account') {
        environments = (await domain.owners.listEnvironments(page.account.id)).filter((env) => env.status !== 'closed');
        for (const env of environments) {
          count += (await domain.keypairs.list({ type: 'environment', accountId: env.accountId, environmentId: env.id }, { limit: 1, offset: 0 })).total;
        }
      }
      render(ctx, 'close', {
        ...base(ctx, `Close ${kind} · ${page.name}`, [...page.crumbs, { label: `Close ${kind}` }]),
        page, section: 'overview', keypairCount: count, environments, error: extra.error ?? null,
      }, { status: extra.status ?? 200 });
    };

    router.get(`${path}/close`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'owner.close');
      if (page.target.status === 'closed') throw new UiError(409, 'Already closed', `This ${kind} is closed already.`);
      await closePage(ctx, page);
    });

    router.post(`${path}/close`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'owner.close');
      if (page.target.status === 'closed') throw new UiError(409, 'Already closed', `This ${kind} is closed already.`);
      if (field(form(ctx), 'confirmName', 200).trim() !== page.name) {
        return closePage(ctx, page, { error: `Type the ${kind}'s name, ${page.name}, exactly to confirm.`, status: 400 });
      }
      const actor = me(ctx).access.actor;
      if (kind === 'account') {
        await domain.closing.closeAccount(page.account.id, actor);
        flash(ctx, `Account ${page.name} is closed; its keypairs were removed.`);
        return seeOther(ctx, `${UI_PREFIX}/accounts`);
      }
      await domain.closing.closeEnvironment(page.environment!.id, actor);
      flash(ctx, `Environment ${page.name} is closed; its keypairs were removed.`);
      seeOther(ctx, `${UI_PREFIX}/accounts/${page.account.id}`);
    });
  }

  router.post('/accounts/:id/environments', signedIn, async (ctx) => {
    const page = await authorizeOwner(ctx, domain, 'account', 'environment.create');
    const env = await domain.owners.createEnvironment(page.account.id, { name: field(form(ctx), 'name', 200) }, me(ctx).access.actor);
    flash(ctx, `Environment ${env.name} created.`);
    seeOther(ctx, `${UI_PREFIX}/environments/${env.id}`);
  });

  // ---- keypairs ----

  const keypairCrumbs = (page: OwnerPage, keypair: KeypairView, last?: string): Crumb[] => [
    ...page.crumbs,
    { label: 'API management', href: `${page.base}/keypairs` },
    last ? { label: keypair.name, href: `${UI_PREFIX}/keypairs/${keypair.keyId}` } : { label: keypair.name },
    ...(last ? [{ label: last }] : []),
  ];

  const keypairPage = async (ctx: Context, extra: { error?: string; values?: { name: string; comment: string; scopes: string[] }; status?: number } = {}) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.read');
    const history = page.may.audit ? await domain.audit.page({ keypairId: keypair.keyId }, { limit: 10 }) : { items: [] };
    render(ctx, 'keypair', {
      ...base(ctx, `${keypair.name} · API management`, keypairCrumbs(page, keypair)),
      page, section: 'access', keypair,
      scopes: domain.scopes.forLevel(keypair.ownerType),
      values: extra.values ?? { name: keypair.name, comment: keypair.comment, scopes: keypair.scopes },
      error: extra.error ?? null,
      once: onceToken(),
      events: await describeEvents(domain, history.items),
    }, { status: extra.status ?? 200 });
  };

  router.get('/keypairs/:keyId', signedIn, async (ctx) => keypairPage(ctx));

  // Also for a removed keypair: its trail stays, for those who may read its former owner's.
  router.get('/keypairs/:keyId/audit', signedIn, async (ctx) => {
    const keyId = checkId('keyId', (ctx as unknown as { params: Record<string, string> }).params.keyId);
    const { access } = me(ctx);
    const { target, keypair, removedKeypair } = await domain.access.authorize(access, 'audit.read', { keyId });
    const page = await ownerPage(domain, access, target);
    const name = keypair?.name ?? removedKeypair!.name;
    const cursor = auditCursor(ctx);
    const events = await domain.audit.page({ keypairId: keyId }, { limit: 50, ...(cursor ? { cursor } : {}) });
    const here = `${UI_PREFIX}/keypairs/${keyId}/audit`;
    const crumbs = keypair
      ? keypairCrumbs(page, keypair, 'Audit trail')
      : [...page.crumbs, { label: 'API management', href: `${page.base}/keypairs` }, { label: `${name} (removed)` }, { label: 'Audit trail' }];
    render(ctx, 'audit', {
      ...base(ctx, `Audit trail · ${name}`, crumbs),
      page, section: 'access',
      subject: keypair ? `keypair ${name}` : `keypair ${name} (${keyId}), which was removed`,
      events: await describeEvents(domain, events.items),
      nextHref: events.nextCursor ? `${here}?cursor=${encodeURIComponent(events.nextCursor)}` : null,
      firstHref: cursor ? here : null,
    });
  });

  router.post('/keypairs/:keyId/edit', signedIn, async (ctx) => {
    const { keypair } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const f = form(ctx);
    const values = { name: field(f, 'name', 200), comment: field(f, 'comment', 5000), scopes: fields(f, 'scopes') };
    try {
      await domain.keypairs.update(keypair.keyId, values, me(ctx).access.actor);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'invalid_input') return keypairPage(ctx, { error: capitalize(err.message) + '.', values, status: 400 });
      throw err;
    }
    flash(ctx, `Saved ${values.name.trim()}. Scope changes apply to new tokens.`);
    seeOther(ctx, `${UI_PREFIX}/keypairs/${keypair.keyId}`);
  });

  for (const action of ['enable', 'disable', 'unlock'] as const) {
    router.post(`/keypairs/:keyId/${action}`, signedIn, async (ctx) => {
      const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
      const actor = me(ctx).access.actor;
      if (action === 'unlock') await domain.keypairs.unlock(keypair.keyId, actor);
      else await domain.keypairs.setEnabled(keypair.keyId, action === 'enable', actor);
      flash(ctx, action === 'unlock' ? `${keypair.name} is unlocked.`
        : action === 'enable' ? `${keypair.name} is enabled: it gets tokens again.`
          : `${keypair.name} is disabled: it gets no new tokens, and the tokens issued so far are revoked for good.`);
      seeOther(ctx, field(form(ctx), 'back') === 'list' ? `${page.base}/keypairs` : `${UI_PREFIX}/keypairs/${keypair.keyId}`);
    });
  }

  const rotatePage = async (ctx: Context, extra: { error?: string; grace?: string; status?: number } = {}) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const previous = keypair.secrets.find((s) => s.state === 'previous') ?? null;
    render(ctx, 'rotate', {
      ...base(ctx, `Rotate ${keypair.name}`, keypairCrumbs(page, keypair, 'Rotate')),
      page, section: 'access', keypair, previous,
      choices: ROTATE_CHOICES,
      grace: extra.grace ?? DEFAULT_GRACE,
      error: extra.error ?? null,
      once: onceToken(),
    }, { status: extra.status ?? 200 });
  };

  router.get('/keypairs/:keyId/rotate', signedIn, async (ctx) => rotatePage(ctx));

  router.post('/keypairs/:keyId/rotate', signedIn, async (ctx) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const f = form(ctx);
    const grace = field(f, 'grace', 10);
    if (!Object.hasOwn(GRACE_PERIODS, grace)) return rotatePage(ctx, { error: 'Choose when the current secret stops working.', status: 400 });
    if (field(f, 'confirm', 10) !== 'yes') return rotatePage(ctx, { error: 'Tick the box to confirm: a rotation cannot be undone.', grace, status: 400 });
    if (!spend(ctx, field(f, 'once', 100))) return alreadySubmitted(ctx, page);
    const issued = await domain.keypairs.rotate(keypair.keyId, grace as GracePeriod, me(ctx).access.actor);
    secretPage(ctx, page, issued.keypair, issued.secret, grace === '0' ? 'regenerated' : 'rotated');
  });

  router.post('/keypairs/:keyId/regenerate', signedIn, async (ctx) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const f = form(ctx);
    if (field(f, 'confirm', 10) !== 'yes') return keypairPage(ctx, { error: 'Tick the box to confirm the regeneration: the current secret stops working at once.', status: 400 });
    if (!spend(ctx, field(f, 'once', 100))) return alreadySubmitted(ctx, page);
    const issued = await domain.keypairs.rotate(keypair.keyId, '0', me(ctx).access.actor, { revokeTokens: field(f, 'keepTokens', 10) !== 'yes' });
    secretPage(ctx, page, issued.keypair, issued.secret, 'regenerated');
  });

  const removePage = async (ctx: Context, extra: { error?: string; status?: number } = {}) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    render(ctx, 'remove', {
      ...base(ctx, `Remove ${keypair.name}`, keypairCrumbs(page, keypair, 'Remove')),
      page, section: 'access', keypair, error: extra.error ?? null,
    }, { status: extra.status ?? 200 });
  };

  router.get('/keypairs/:keyId/remove', signedIn, async (ctx) => removePage(ctx));

  router.post('/keypairs/:keyId/remove', signedIn, async (ctx) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    if (field(form(ctx), 'confirmName', 200).trim() !== keypair.name) {
      return removePage(ctx, { error: `Type the keypair's name, ${keypair.name}, exactly to confirm.`, status: 400 });
    }
    await domain.keypairs.remove(keypair.keyId, me(ctx).access.actor);
    flash(ctx, `${keypair.name} (${keypair.keyId}) is removed.`);
    seeOther(ctx, `${page.base}/keypairs`);
  });

  // ---- pages that show a secret ----

  /** The one page that shows a new secret: the POST response itself, never cached, never after a redirect. */
  function secretPage(ctx: Context, page: OwnerPage, keypair: KeypairView, secret: string, how: 'created' | 'rotated' | 'regenerated'): void {
    const previous = keypair.secrets.find((s) => s.state === 'previous') ?? null;
    render(ctx, 'secret', {
      ...base(ctx, `Secret for ${keypair.name}`, keypairCrumbs(page, keypair, how === 'created' ? 'Created' : 'New secret')),
      page, section: 'access', keypair, secret, how, previous,
      tokenUrl: `${deps.issuer}/oauth/token`,
    });
  }

  function alreadySubmitted(ctx: Context, page: OwnerPage): void {
    throw new UiError(409, 'Already submitted', `This form was submitted already, and its secret was shown then: Keyport never shows a secret twice. Go to API management (${page.name}) to see the keypair, or rotate it to get a new secret.`);
  }

  async function startSession(ctx: Context, userId: string): Promise<void> {
    const handle = uiSessionOf(ctx);
    if (!handle) throw new Error('sessions are not available');
    // A new session (and cookie key) at sign-in: no session fixation, nothing carried over.
    handle.data = { userId, csrf: newCsrfToken() };
    handle.regenerate();
    ctx.cookies.set(FORM_COOKIE, '', { ...formCookieOptions(ctx), maxAge: 0 });
  }

  return router;
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

function capitalize(text: string): string {
  return text ? text[0]!.toUpperCase() + text.slice(1) : text;
}

/** A path inside the UI to return to after sign-in, or ''. */
function safeNext(value: string): string {
  return /^\/ui(\/[A-Za-z0-9_/-]*)?$/.test(value) && !value.includes('//') ? value : '';
}

/** Audit events for display: who (an email for users), what, and the details in a line. */
async function describeEvents(domain: Domain, events: AuditEventView[]) {
  const userIds = [...new Set(events.map((e) => e.actor).filter((a) => a.startsWith('user:')).map((a) => a.slice(5)))];
  const users = new Map((await Promise.all(userIds.map((id) => domain.users.findById(id)))).filter((u): u is UserView => !!u).map((u) => [u.id, u.email]));
  return events.map((event) => ({
    ...event,
    who: event.actor.startsWith('user:') ? users.get(event.actor.slice(5)) ?? event.actor
      : event.actor.startsWith('keypair:') ? `keypair ${event.actor.slice(8)}`
        : event.actor,
    detailText: Object.entries(event.details ?? {})
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') || '—' : v === null ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(' · '),
  }));
}
