// API management: an owner's keypairs (list, create) and each keypair's pages
// (edit, enable, disable, unlock, rotate, regenerate, remove). The answers that
// issue a secret render it in the POST response itself, once; a one-time form id
// refuses a resubmitted form instead of issuing (and showing) another secret.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { DomainError } from '../../../domain/errors.ts';
import type { KeypairStatus, KeypairView } from '../../../domain/keypairs.ts';
import { DEFAULT_GRACE, GRACE_PERIOD_NAMES, GRACE_PERIODS, NAME_MAX, type GracePeriod } from '../../../domain/limits.ts';
import { authorizeKeypair, authorizeOwner, keypairCrumbs, OWNER_PATHS, type OwnerPage, type RoutedContext } from '../owner-page.ts';
import { capitalize, field, fields, flash, form, me, onceToken, pageBase, seeOther, signedIn, spend, UI_PREFIX, UiError, type UiDeps } from '../page-helpers.ts';
import { describeEvents } from '../audit-view.ts';
import { render } from '../render.ts';
import { PUBLIC_KEY_INPUT_MAX } from '../../../domain/public-keys.ts';

const PAGE_SIZE = 20;
const KEYPAIR_STATUSES: KeypairStatus[] = ['enabled', 'disabled', 'locked'];
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
      // The search box: a name prefix or a key id (longer text cannot match a name, so it is cut).
      const search = (typeof ctx.query.q === 'string' ? ctx.query.q : '').trim().slice(0, NAME_MAX);
      const list = await domain.keypairs.list(page.owner, { limit: PAGE_SIZE, offset: (pageNumber - 1) * PAGE_SIZE, ...(status ? { status } : {}), ...(search ? { search } : {}) });
      const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
      const query = (p: number, s = status) => {
        const q = new URLSearchParams();
        if (search) q.set('q', search);
        if (s) q.set('status', s);
        if (p > 1) q.set('page', String(p));
        const text = q.toString();
        return `${page.base}/keypairs${text ? `?${text}` : ''}`;
      };
      render(ctx, 'keypairs', {
        ...base(ctx, `API management · ${page.name}`, [...page.crumbs, { label: 'Access management', href: `${page.base}/access` }, { label: 'API management' }]),
        page, section: 'access', keypairs: list.items, total: list.total, status: status ?? '', search, pageNumber, pages,
        filters: [{ label: 'All', value: '' }, ...KEYPAIR_STATUSES.map((s) => ({ label: capitalize(s), value: s }))].map((f) => ({ ...f, href: query(1, (f.value || undefined) as KeypairStatus | undefined) })),
        prevHref: pageNumber > 1 ? query(pageNumber - 1) : null,
        nextHref: pageNumber < pages ? query(pageNumber + 1) : null,
      });
    });

    const newKeypairPage = (ctx: Context, page: OwnerPage, extra: { error?: string; warnings?: string[]; values?: { name: string; comment: string; scopes: string[]; publicKey?: string; noSecret?: boolean }; status?: number } = {}) => {
      render(ctx, 'keypair-new', {
        ...base(ctx, `New keypair · ${page.name}`, [...page.crumbs, { label: 'API management', href: `${page.base}/keypairs` }, { label: 'New keypair' }]),
        page, section: 'access',
        scopes: domain.scopes.forLevel(page.kind),
        values: extra.values ?? { name: '', comment: '', scopes: [] },
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
      const values = { name: field(f, 'name', 200), comment: field(f, 'comment', 5000), scopes: fields(f, 'scopes'), publicKey: field(f, 'publicKey', PUBLIC_KEY_INPUT_MAX).trim(), noSecret: field(f, 'noSecret', 10) === 'yes' };
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
        issued = await domain.keypairs.create(kind === 'account' ? { accountId: page.account.id } : { environmentId: page.environment!.id }, {
          name: values.name, comment: values.comment, scopes: values.scopes,
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

  const keypairPage = async (ctx: RoutedContext, extra: { error?: string; values?: { name: string; comment: string; scopes: string[] }; status?: number } = {}) => {
    const { keypair, page } = await authorizeKeypair(ctx, domain, 'keypairs.read');
    const history = page.may.audit ? await domain.audit.page({ keypairId: keypair.keyId }, { limit: 10 }) : { items: [] };
    render(ctx, 'keypair', {
      ...base(ctx, `${keypair.name} · API management`, keypairCrumbs(page, keypair)),
      page, section: 'access', keypair,
      scopes: domain.scopes.forLevel(keypair.ownerType),
      values: extra.values ?? { name: keypair.name, comment: keypair.comment, scopes: keypair.scopes },
      error: extra.error ?? null,
      events: await describeEvents(domain, history.items),
      keyGraceChoices: RETIRE_CHOICES,
    }, { status: extra.status ?? 200 });
  };

  router.get('/keypairs/:keyId', signedIn, async (ctx) => keypairPage(ctx));

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
    if (!spend(ctx, field(f, 'once', 100))) return alreadySubmitted(ctx, page, keypair);
    const issued = await domain.keypairs.rotate(keypair.keyId, grace as GracePeriod, me(ctx).access.actor);
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

  function alreadySubmitted(ctx: Context, page: OwnerPage, keypair?: KeypairView): void {
    const back = keypair
      ? { href: `${UI_PREFIX}/keypairs/${keypair.keyId}`, label: `Back to ${keypair.name}` }
      : { href: `${page.base}/keypairs`, label: `Back to API management (${page.name})` };
    throw new UiError(409, 'Already submitted', `This form was submitted already, and its secret was shown then: Keyport never shows a secret twice. Go to API management (${page.name}) to see the keypair, or rotate it to get a new secret.`, back);
  }
}
