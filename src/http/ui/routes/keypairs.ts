// API management: an owner's keypairs (list, create) and each keypair's pages
// (edit, enable, disable, unlock, rotate, regenerate, replace, remove). The answers that
// issue a secret render it in the POST response itself, once; a one-time form id
// refuses a resubmitted form instead of issuing (and showing) another secret.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { DomainError } from '../../../domain/errors.ts';
import type { KeypairListFilter, KeypairView } from '../../../domain/keypairs.ts';
import { DEFAULT_GRACE, GRACE_PERIOD_NAMES, GRACE_PERIODS, NAME_MAX, RETIRE_WHEN_IDLE, type GracePeriod, type RetireWhenIdle } from '../../../domain/limits.ts';
import { formatTime } from '../render.ts';
import { authorizeKeypair, authorizeOwner, keypairCrumbs, OWNER_PATHS, type OwnerPage, type RoutedContext } from '../owner-page.ts';
import { capitalize, field, fields, flash, form, me, onceToken, pageBase, seeOther, signedIn, spend, UI_PREFIX, UiError, type UiDeps } from '../page-helpers.ts';
import { describeEvents } from '../audit-view.ts';
import { render } from '../render.ts';
import { PUBLIC_KEY_INPUT_MAX } from '../../../domain/public-keys.ts';
import { usageChart } from '../usage-chart.ts';
import { COMMENT_SEARCH_MAX, KEYPAIR_SORTS, type KeypairSort } from '../../../domain/keypair-pages.ts';
import { isWellFormedKeyId } from '../../../domain/credentials.ts';

/** Rows per page the list offers (the first is the default): small for a quick look, large for a sweep through an account. */
const PAGE_SIZES = [20, 50, 100] as const;
const KEYPAIR_STATUSES: KeypairListFilter[] = ['enabled', 'disabled', 'locked', 'expiring', 'expired'];
const FILTER_LABELS: Record<KeypairListFilter, string> = { enabled: 'Enabled', disabled: 'Disabled', locked: 'Locked', expiring: 'Expiring soon', expired: 'Expired' };

/** The form's "Expires on" day: the keypair stops at 00:00 UTC that day. '' is null (never); anything else not a day is refused. */
function expiryOfDay(day: string): Date | null {
  if (day === '') return null;
  const at = /^\d{4}-\d{2}-\d{2}$/.test(day) ? new Date(`${day}T00:00:00Z`) : null;
  if (!at || Number.isNaN(at.getTime())) throw new DomainError('invalid_input', 'expires on must be a date');
  return at;
}
/** The day an expiry date falls on (UTC), as the date field shows it. */
const dayOf = (iso: string | null) => (iso ? iso.slice(0, 10) : '');
const hours = (ms: number) => `${ms / 3_600_000} hour${ms === 3_600_000 ? '' : 's'}`;
const ROTATE_CHOICES: { value: GracePeriod; label: string }[] = GRACE_PERIOD_NAMES.map((value) => ({
  value,
  label: value === '0' ? 'Rotate immediately (the current secret stops working now)' : `Keep the current secret for ${hours(GRACE_PERIODS[value])}`,
}));

const RETIRE_CHOICES: { value: GracePeriod; label: string }[] = GRACE_PERIOD_NAMES.map((value) => ({
  value,
  label: value === '0' ? 'now' : `after ${hours(GRACE_PERIODS[value])}`,
}));

/** An owner's keypairs, and /ui/keypairs/:keyId with its actions. */
export function keypairRoutes(router: Router, deps: UiDeps): void {
  const { domain } = deps;
  const base = pageBase(domain);

  for (const [kind, path] of OWNER_PATHS) {

    router.get(`${path}/keypairs`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'keypairs.read');
      const status = KEYPAIR_STATUSES.find((s) => s === ctx.query.status);
      const pageNumber = Math.min(100_000, Math.max(1, Number.parseInt(String(ctx.query.page ?? '1'), 10) || 1));
      // Anything but an offered size is the default: the page never grows past 100 rows on a hand-edited URL.
      const size = PAGE_SIZES.find((n) => String(n) === ctx.query.size) ?? PAGE_SIZES[0];
      // The search box: a name prefix or a key id (longer text cannot match a name, so it is cut).
      const search = (typeof ctx.query.q === 'string' ? ctx.query.q : '').trim().slice(0, NAME_MAX);
      const sort = KEYPAIR_SORTS.find((x) => x === ctx.query.sort);
      // Next and Previous carry a cursor (one indexed read, however long the list); ?page= alone is an offset (old links).
      const cursor = typeof ctx.query.cursor === 'string' ? ctx.query.cursor : undefined;
      const request = { limit: size, ...(cursor ? { cursor } : { offset: (pageNumber - 1) * size }), ...(sort ? { sort } : {}), ...(status ? { status } : {}), ...(search ? { search } : {}) };
      // An account's page may list every keypair of the account and its environments in one (?include=environments).
      const acrossEnvironments = kind === 'account' && ctx.query.include === 'environments';
      const [list, counts] = await Promise.all([
        (acrossEnvironments ? domain.keypairs.listAcrossEnvironments(page.account.id, request) : domain.keypairs.listPage(page.owner, request)).catch((err: unknown) => {
          if (err instanceof DomainError && err.code === 'invalid_input') throw new UiError(400, 'This page link is not valid', `${capitalize(err.message)}.`, { href: `${page.base}/keypairs`, label: 'Back to the first page' });
          throw err;
        }),
        domain.keypairs.countTabs(acrossEnvironments ? { accountId: page.account.id, acrossEnvironments: true } : page.owner, KEYPAIR_STATUSES, search || undefined),
      ]);
      const pages = list.totalIsExact ? Math.max(1, Math.ceil(list.total / size)) : null;
      const query = (p: number, options: { status?: KeypairListFilter | undefined; sort?: KeypairSort | undefined; cursor?: string; search?: string } = { status, sort }) => {
        const q = new URLSearchParams();
        if (acrossEnvironments) q.set('include', 'environments');
        const searched = options.search ?? search;
        if (searched) q.set('q', searched);
        if (options.status) q.set('status', options.status);
        if (options.sort) q.set('sort', options.sort);
        if (p > 1) q.set('page', String(p));
        if (size !== PAGE_SIZES[0]) q.set('size', String(size));
        if (options.cursor) q.set('cursor', options.cursor);
        const text = q.toString();
        return `${page.base}/keypairs${text ? `?${text}` : ''}`;
      };
      const withParam = (href: string, name: string, value: string) => `${href}${href.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`;
      const countLabel = (c: { count: number; exact: boolean } | null) => (c === null ? null : c.exact ? String(c.count) : `${c.count}+`);
      // A column header sorts by it; a second click on the sorted column turns the order round.
      const sortLink = (column: 'name' | 'created') => {
        const ascending = column === 'name' ? 'name' : 'created';
        const descending = column === 'name' ? '-name' : '-created';
        const current = list.sort === ascending ? 'ascending' : list.sort === descending ? 'descending' : null;
        const next = current === null ? (column === 'name' ? ascending : descending) : current === 'ascending' ? descending : ascending;
        return { href: query(1, { status, sort: next }), ariaSort: current ?? 'none' };
      };
      render(ctx, 'keypairs', {
        ...base(ctx, `API management${acrossEnvironments ? ', all environments' : ''} · ${page.name}`, [...page.crumbs, { label: 'Access management', href: `${page.base}/access` }, { label: acrossEnvironments ? 'API management, all environments' : 'API management' }]),
        page, section: 'access', keypairs: list.items, total: list.total, totalIsExact: list.totalIsExact, status: status ?? '', search, pageNumber, pages,
        filters: [{ label: 'All', value: '' }, ...KEYPAIR_STATUSES.map((s) => ({ label: FILTER_LABELS[s], value: s }))].map((f) => ({ ...f, count: countLabel(counts[(f.value || 'all') as KeypairListFilter | 'all']), href: query(1, { status: (f.value || undefined) as KeypairListFilter | undefined, sort }) })),
        size, sizes: PAGE_SIZES, sort: sort ?? '',
        sortName: sortLink('name'), sortCreated: sortLink('created'),
        // Bulk actions: without JavaScript, "select all on this page" is this page again with every box ticked.
        selectAll: ctx.query.select === 'all',
        selectAllHref: withParam(query(pageNumber, { status, sort, ...(cursor ? { cursor } : {}) }), 'select', 'all'),
        clearSearchHref: query(1, { status, sort, search: '' }),
        acrossEnvironments, ownListHref: `${page.base}/keypairs`, acrossHref: `${page.base}/keypairs?include=environments`,
        // Said when a search could not look into comments (a list past COMMENT_SEARCH_MAX keypairs); not when it found a key id.
        commentsNotSearched: Boolean(search) && !list.searchedComments && !isWellFormedKeyId(search),
        commentSearchMax: COMMENT_SEARCH_MAX,
        prevHref: list.previous ? query(pageNumber - 1, { status, sort, cursor: list.previous }) : null,
        nextHref: list.next ? query(pageNumber + 1, { status, sort, cursor: list.next }) : null,
      });
    });

    const newKeypairPage = (ctx: Context, page: OwnerPage, extra: { error?: string; warnings?: string[]; values?: { name: string; comment: string; scopes: string[]; expiresOn: string; dpopRequired?: boolean; publicKey?: string; noSecret?: boolean }; status?: number } = {}) => {
      render(ctx, 'keypair-new', {
        ...base(ctx, `New keypair · ${page.name}`, [...page.crumbs, { label: 'API management', href: `${page.base}/keypairs` }, { label: 'New keypair' }]),
        page, section: 'access',
        scopes: domain.scopes.forLevel(page.kind),
        values: extra.values ?? { name: '', comment: '', scopes: [], expiresOn: '', dpopRequired: false },
        maxLifetimeDays: page.account.maxKeypairLifetimeDays,
        error: extra.error ?? null,
        warnings: extra.warnings ?? [],
        once: onceToken(),
      }, { status: extra.status ?? 200 });
    };

    router.get(`${path}/keypairs/new`, signedIn, async (ctx) => {
      newKeypairPage(ctx, await authorizeOwner(ctx, domain, kind, 'keypairs.manage'));
    });

    router.post(`${path}/keypairs`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'keypairs.manage');
      const f = form(ctx);
      const values = { name: field(f, 'name', 200), comment: field(f, 'comment', 5000), scopes: fields(f, 'scopes'), expiresOn: field(f, 'expiresOn', 20), dpopRequired: field(f, 'dpopRequired', 10) === 'yes', publicKey: field(f, 'publicKey', PUBLIC_KEY_INPUT_MAX).trim(), noSecret: field(f, 'noSecret', 10) === 'yes' };
      // A second keypair of the same name, or one without scopes, is most often a
      // slip: ask once (the form again, with a box to tick). The admin API does not ask.
      if (field(f, 'anyway', 10) !== 'yes') {
        const warnings = [];
        if (await domain.keypairs.nameInUse(page.owner, values.name)) warnings.push(`This ${kind} has a keypair named ${values.name.trim()} already.`);
        if (!values.scopes.length) warnings.push('No scope is chosen: the keypair gets tokens that grant nothing.');
        if (warnings.length) return newKeypairPage(ctx, page, { warnings, values, status: 409 });
      }
      if (!spend(ctx, field(f, 'once', 100))) return alreadySubmitted(ctx, page);
      let issued;
      try {
        // An empty day leaves the expiry to the account's maximum lifetime (or none).
        const expiresAt = values.expiresOn ? expiryOfDay(values.expiresOn) : undefined;
        issued = await domain.keypairs.create(kind === 'account' ? { accountId: page.account.id } : { environmentId: page.environment!.id }, {
          name: values.name, comment: values.comment, scopes: values.scopes, dpopRequired: values.dpopRequired,
          ...(expiresAt ? { expiresAt } : {}),
          ...(values.publicKey ? { publicKeys: [values.publicKey] } : {}), secret: !values.noSecret,
        }, me(ctx).access.actor);
      } catch (err) {
        if (err instanceof DomainError && err.code === 'invalid_input') {
          // A private key pasted by mistake is not sent back into the page.
          const shown = /private key/.test(err.message) ? { ...values, publicKey: '' } : values;
          return newKeypairPage(ctx, page, { error: capitalize(err.message) + '.', values: shown, status: 400 });
        }
        throw err;
      }
      if (issued.secret === null) {
        // Nothing secret to show once: the keypair's own page, with its key.
        flash(ctx, `Created ${issued.keypair.name}, without a secret: it authenticates with its public key.`);
        return seeOther(ctx, `${UI_PREFIX}/keypairs/${issued.keypair.keyId}`);
      }
      secretPage(ctx, page, issued.keypair, issued.secret, 'created');
    });
  }

  const keypairPage = async (ctx: RoutedContext, extra: { error?: string; values?: { name: string; comment: string; scopes: string[]; expiresOn: string; dpopRequired?: boolean }; status?: number } = {}) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.read');
    const history = page.may.audit ? await domain.audit.page({ keypairId: keypair.keyId }, { limit: 10 }) : { items: [] };
    // The chart's figures include what this process has answered and not yet written (both queues are flushed first).
    await domain.keypairAuth.usageRecorded(keypair.keyId);
    const usageDays = await domain.usage.series(keypair.keyId);
    render(ctx, 'keypair', {
      usage: { ...usageChart(usageDays), first: usageDays[0]?.day ?? '', last: usageDays.at(-1)?.day ?? '' },
      ...base(ctx, `${keypair.name} · API management`, keypairCrumbs(page, keypair)),
      page, section: 'access', keypair,
      extendChoices: extendChoices(keypair),
      endedRetentionDays: domain.keypairs.endedRetentionDays,
      scopes: domain.scopes.forLevel(keypair.ownerType),
      values: extra.values ?? { name: keypair.name, comment: keypair.comment, scopes: keypair.scopes, expiresOn: dayOf(keypair.expiresAt), dpopRequired: keypair.dpopRequired },
      maxLifetimeDays: page.account.maxKeypairLifetimeDays,
      error: extra.error ?? null,
      events: await describeEvents(domain, history.items),
      keyGraceChoices: RETIRE_CHOICES,
      trustIssuers: domain.keypairTrust.issuers,
    }, { status: extra.status ?? 200 });
  };

  router.get('/keypairs/:keyId', signedIn, async (ctx) => keypairPage(ctx));

  router.post('/keypairs/:keyId/edit', signedIn, async (ctx) => {
    const { keypair } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const f = form(ctx);
    const values = { name: field(f, 'name', 200), comment: field(f, 'comment', 5000), scopes: fields(f, 'scopes'), expiresOn: field(f, 'expiresOn', 20), dpopRequired: field(f, 'dpopRequired', 10) === 'yes' };
    try {
      // The expiry changes only when the day does: saving a name must not trip over an expiry date now past.
      const expiry = values.expiresOn === dayOf(keypair.expiresAt) ? {} : { expiresAt: expiryOfDay(values.expiresOn) };
      // An unticked box is simply absent from the form: the requirement goes to the domain (and the audit) only when it changes.
      const dpop = values.dpopRequired === keypair.dpopRequired ? {} : { dpopRequired: values.dpopRequired };
      await domain.keypairs.update(keypair.keyId, { name: values.name, comment: values.comment, scopes: values.scopes, ...expiry, ...dpop }, me(ctx).access.actor);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'invalid_input') return keypairPage(ctx, { error: capitalize(err.message) + '.', values, status: 400 });
      throw err;
    }
    flash(ctx, `Saved ${values.name.trim()}. Scope changes apply to new tokens.`);
    seeOther(ctx, `${UI_PREFIX}/keypairs/${keypair.keyId}`);
  });

  // ---- rotation safety during a grace period ----

  /** Runs a rotation-safety action; a refusal (in use, out of range, no grace period) shows on the keypair page. */
  const safetyAction = (path: string, act: (ctx: RoutedContext, keypair: KeypairView) => Promise<string>) => {
    router.post(`/keypairs/:keyId/previous-secret/${path}`, signedIn, async (ctx) => {
      const { keypair } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
      let done: string;
      try {
        done = await act(ctx, keypair);
      } catch (err) {
        if (err instanceof DomainError && (err.code === 'invalid_input' || err.code === 'conflict' || err.code === 'previous_secret_in_use')) {
          return keypairPage(ctx, { error: capitalize(err.message.replace('end it with force', 'tick the box')) + '.', status: err.code === 'invalid_input' ? 400 : 409 });
        }
        throw err;
      }
      flash(ctx, done);
      seeOther(ctx, `${UI_PREFIX}/keypairs/${keypair.keyId}`);
    });
  };

  safetyAction('end', async (ctx, keypair) => {
    await domain.keypairs.endPreviousSecret(keypair.keyId, me(ctx).access.actor, { force: field(form(ctx), 'force', 10) === 'yes' });
    return `The previous secret of ${keypair.name} has stopped working.`;
  });
  safetyAction('extend', async (ctx, keypair) => {
    const until = new Date(field(form(ctx), 'until', 40));
    const changed = await domain.keypairs.extendGrace(keypair.keyId, until, me(ctx).access.actor);
    return `The previous secret of ${keypair.name} now works until ${formatTime(changed.previousSecret!.endsAt)}.`;
  });
  safetyAction('retire-when-idle', async (ctx, keypair) => {
    const value = field(form(ctx), 'retireWhenIdle', 10);
    const idle = value === 'off' ? null : Object.hasOwn(RETIRE_WHEN_IDLE, value) ? value as RetireWhenIdle : undefined;
    if (idle === undefined) throw new DomainError('invalid_input', 'choose how long the previous secret may go unused');
    await domain.keypairs.setRetireWhenIdle(keypair.keyId, idle, me(ctx).access.actor);
    return idle ? `The previous secret of ${keypair.name} ends once unused for ${idle}.` : `The previous secret of ${keypair.name} works until the end of its grace period.`;
  });

  // Disabling cuts a client off at once and revokes its tokens: it is confirmed on
  // its own page (a dialog with JavaScript), like rotate and remove.
  const disablePage = async (ctx: RoutedContext, extra: { error?: string; status?: number } = {}) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const back = (ctx.method === 'GET' ? ctx.query.back : field(form(ctx), 'back', 10)) === 'list' ? 'list' : 'keypair';
    render(ctx, 'disable', {
      ...base(ctx, `Disable ${keypair.name}`, keypairCrumbs(page, keypair, 'Disable')),
      page, section: 'access', keypair, back, error: extra.error ?? null,
    }, { status: extra.status ?? 200 });
  };

  router.get('/keypairs/:keyId/disable', signedIn, async (ctx) => disablePage(ctx));

  for (const action of ['enable', 'disable', 'unlock'] as const) {
    router.post(`/keypairs/:keyId/${action}`, signedIn, async (ctx) => {
      const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
      if (action === 'disable' && field(form(ctx), 'confirm', 10) !== 'yes') {
        return disablePage(ctx, { error: 'Confirm on this page to disable the keypair.', status: 400 });
      }
      const actor = me(ctx).access.actor;
      if (action === 'unlock') await domain.keypairs.unlock(keypair.keyId, actor);
      else await domain.keypairs.setEnabled(keypair.keyId, action === 'enable', actor);
      flash(ctx, action === 'unlock' ? `${keypair.name} is unlocked.`
        : action === 'enable' ? `${keypair.name} is enabled: it gets tokens again.`
          : `${keypair.name} is disabled: it gets no new tokens, and the tokens issued so far are revoked for good.`);
      seeOther(ctx, field(form(ctx), 'back') === 'list' ? `${page.base}/keypairs` : `${UI_PREFIX}/keypairs/${keypair.keyId}`);
    });
  }

  const rotatePage = async (ctx: RoutedContext, extra: { error?: string; grace?: string; status?: number } = {}) => {
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
    const retire = field(f, 'retireWhenIdle', 10);
    if (retire && (!Object.hasOwn(RETIRE_WHEN_IDLE, retire) || grace === '0')) return rotatePage(ctx, { error: grace === '0' ? 'Ending the old secret when idle needs a grace period: rotating immediately ends it now.' : 'Choose how long the old secret may go unused.', grace, status: 400 });
    if (!spend(ctx, field(f, 'once', 100))) return alreadySubmitted(ctx, page, keypair);
    const issued = await domain.keypairs.rotate(keypair.keyId, grace as GracePeriod, me(ctx).access.actor, retire ? { retireWhenIdle: retire as RetireWhenIdle } : {});
    secretPage(ctx, page, issued.keypair, issued.secret, grace === '0' ? 'regenerated' : 'rotated');
  });

  const regeneratePage = async (ctx: RoutedContext, extra: { error?: string; keepTokens?: boolean; status?: number } = {}) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    render(ctx, 'regenerate', {
      ...base(ctx, `Regenerate ${keypair.name}`, keypairCrumbs(page, keypair, 'Regenerate')),
      page, section: 'access', keypair,
      previous: keypair.secrets.find((s) => s.state === 'previous') ?? null,
      keepTokens: extra.keepTokens ?? false,
      error: extra.error ?? null,
      once: onceToken(),
    }, { status: extra.status ?? 200 });
  };

  router.get('/keypairs/:keyId/regenerate', signedIn, async (ctx) => regeneratePage(ctx));

  router.post('/keypairs/:keyId/regenerate', signedIn, async (ctx) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const f = form(ctx);
    if (field(f, 'confirm', 10) !== 'yes') {
      return regeneratePage(ctx, { error: 'Tick the box to confirm the regeneration: the current secret stops working at once.', keepTokens: field(f, 'keepTokens', 10) === 'yes', status: 400 });
    }
    if (!spend(ctx, field(f, 'once', 100))) return alreadySubmitted(ctx, page, keypair);
    const issued = await domain.keypairs.rotate(keypair.keyId, '0', me(ctx).access.actor, { revokeTokens: field(f, 'keepTokens', 10) !== 'yes' });
    secretPage(ctx, page, issued.keypair, issued.secret, 'regenerated');
  });

  const removePage = async (ctx: RoutedContext, extra: { error?: string; status?: number } = {}) => {
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

  // Replacing removes the keypair, as removal does: confirmed the same way, by typing its name.
  const replacePage = async (ctx: RoutedContext, extra: { error?: string; status?: number } = {}) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    render(ctx, 'replace', {
      ...base(ctx, `Replace ${keypair.name}`, keypairCrumbs(page, keypair, 'Replace')),
      page, section: 'access', keypair, error: extra.error ?? null, once: onceToken(),
    }, { status: extra.status ?? 200 });
  };

  router.get('/keypairs/:keyId/replace', signedIn, async (ctx) => replacePage(ctx));

  router.post('/keypairs/:keyId/replace', signedIn, async (ctx) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const f = form(ctx);
    if (field(f, 'confirmName', 200).trim() !== keypair.name) {
      return replacePage(ctx, { error: `Type the keypair's name, ${keypair.name}, exactly to confirm.`, status: 400 });
    }
    if (!spend(ctx, field(f, 'once', 100))) return alreadySubmitted(ctx, page, keypair);
    const issued = await domain.keypairs.replace(keypair.keyId, me(ctx).access.actor);
    secretPage(ctx, page, issued.keypair, issued.secret, 'replaced', issued.replaces);
  });

  // ---- pages that show a secret ----

  /** The one page that shows a new secret: the POST response itself, never cached, never after a redirect. */
  function secretPage(ctx: Context, page: OwnerPage, keypair: KeypairView, secret: string, how: 'created' | 'rotated' | 'regenerated' | 'replaced', replaces: string | null = null): void {
    const previous = keypair.secrets.find((s) => s.state === 'previous') ?? null;
    render(ctx, 'secret', {
      ...base(ctx, `Secret for ${keypair.name}`, keypairCrumbs(page, keypair, how === 'created' ? 'Created' : 'New secret')),
      page, section: 'access', keypair, secret, how, previous, replaces,
      tokenUrl: `${deps.issuer}/oauth/token`,
    });
  }

  function alreadySubmitted(ctx: Context, page: OwnerPage, keypair?: KeypairView): void {
    const back = keypair
      ? { href: `${UI_PREFIX}/keypairs/${keypair.keyId}`, label: `Back to ${keypair.name}` }
      : { href: `${page.base}/keypairs`, label: `Back to API management (${page.name})` };
    throw new UiError(409, 'Already submitted', `This form was submitted already, and its secret was shown then: Keyport never shows a secret twice. Go to API management (${page.name}) to see the keypair, or rotate it to get a new secret.`, back);
  }
}

/** The ends an extension may choose: 24, 48 and 72 hours after the rotation, those later than the current end. */
function extendChoices(keypair: KeypairView): { value: string; label: string }[] {
  const previous = keypair.previousSecret;
  if (!previous) return [];
  const latest = Date.parse(previous.extendableUntil);
  const current = Date.parse(previous.expiresAt);
  return [48, 24, 0]
    .map((hoursBefore) => new Date(latest - hoursBefore * 3_600_000))
    .filter((until) => until.getTime() > current)
    .map((until) => ({ value: until.toISOString(), label: `${formatTime(until.toISOString())} (${72 - (latest - until.getTime()) / 3_600_000} h after the rotation)` }));
}
