// The accounts list and each account's or environment's own pages: overview
// (with the account's environments), access management, and closing it.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { canCreateAccount, reach } from '../../../domain/access.ts';
import type { EnvironmentView } from '../../../domain/owners.ts';
import { authorizeOwner, OWNER_PATHS, type OwnerPage } from '../owner-page.ts';
import { DomainError } from '../../../domain/errors.ts';
import { MAX_KEYPAIR_LIFETIME_DAYS } from '../../../domain/expiry.ts';
import { EMAIL_MAX } from '../../../domain/limits.ts';
import { capitalize, checkId, field, flash, form, me, pageBase, seeOther, signedIn, UI_PREFIX, UiError, type UiDeps } from '../page-helpers.ts';
import { render } from '../render.ts';

/** /ui/accounts, and the pages of one account or environment. */
export function ownerRoutes(router: Router, deps: UiDeps): void {
  const { domain } = deps;
  const base = pageBase(domain);

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

  /** An account's or environment's overview; for an account, with its environments and the form to add one (`environment`: that form again, with a question). */
  const ownerPage = async (ctx: Context, page: OwnerPage, environment: { name: string; warning: string } | null = null, status = 200) => {
    const { access } = me(ctx);
    const environments = page.kind === 'account'
      ? (await domain.access.visibleEnvironments(access, page.account.id)).map((env) => ({
        ...env,
        role: reach(access, { type: 'environment', accountId: env.accountId, environmentId: env.id }),
      }))
      : [];
    render(ctx, 'owner', { ...base(ctx, page.name, page.crumbs), page, environments, environment, section: 'overview' }, { status });
  };

  for (const [kind, path] of OWNER_PATHS) {

    router.get(path, signedIn, async (ctx) => {
      await ownerPage(ctx, await authorizeOwner(ctx, domain, kind, 'owner.read'));
    });

    /** The access page: keypairs, and the members with (for their admins) the forms that manage them; `member`: the add form again, with an error. */
    const accessPage = async (ctx: Context, page: OwnerPage, member: { error: string; email: string; role: string; status: number } | null = null) => {
      const [counts, members] = await Promise.all([
        // Counted up to a cap, through the list's index: an exact count would read every keypair of a large owner.
        domain.keypairs.countTabs(page.owner, []),
        domain.users.listMembers(page.owner),
      ]);
      const keypairCount = counts.all!.exact ? counts.all!.count : `${counts.all!.count}+`;
      render(ctx, 'access', {
        ...base(ctx, `Access management · ${page.name}`, [...page.crumbs, { label: 'Access management' }]),
        page, section: 'access', keypairCount, members, member,
      }, { status: member?.status ?? 200 });
    };

    router.get(`${path}/access`, signedIn, async (ctx) => {
      await accessPage(ctx, await authorizeOwner(ctx, domain, kind, 'keypairs.read'));
    });

    // Add a member by email, or change a member's role (the same domain call: grant).
    router.post(`${path}/members`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'members.manage');
      const f = form(ctx);
      const email = field(f, 'email', EMAIL_MAX).trim();
      const role = field(f, 'role', 10);
      const again = (error: string, status: number) => accessPage(ctx, page, { error, email, role, status });
      if (role !== 'admin' && role !== 'member') return again('Choose a role: admin or member.', 400);
      try {
        await domain.access.addMember(me(ctx).access, page.owner, { email, role });
      } catch (err) {
        // The rules that refuse (no such user, the last admin of an account) answer on the same page.
        if (err instanceof DomainError && (err.code === 'invalid_input' || err.code === 'conflict')) {
          return again(err.code === 'invalid_input' ? `No user has the email ${email || '(empty)'}: an operator creates users (keyport user create).` : `${capitalize(err.message)}.`, err.code === 'conflict' ? 409 : 400);
        }
        throw err;
      }
      flash(ctx, `${email} is ${role === 'admin' ? 'an administrator' : 'a member'} of ${page.name}.`);
      seeOther(ctx, `${page.base}/access`);
    });

    const memberOf = async (ctx: Context, page: OwnerPage) => {
      const userId = checkId('userId', ctx.params.userId);
      const member = (await domain.users.listMembers(page.owner)).find((m) => m.userId === userId);
      if (!member) throw new UiError(404, 'No such member', `This user is not a member of ${page.name}.`, { href: `${page.base}/access`, label: 'Back to access management' });
      return member;
    };

    router.get(`${path}/members/:userId/remove`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'members.manage');
      const member = await memberOf(ctx, page);
      render(ctx, 'member-remove', { ...base(ctx, `Remove ${member.email} · ${page.name}`, [...page.crumbs, { label: 'Access management', href: `${page.base}/access` }, { label: 'Remove member' }]), page, member, error: null });
    });

    router.post(`${path}/members/:userId/remove`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'members.manage');
      const member = await memberOf(ctx, page);
      try {
        await domain.access.removeMember(me(ctx).access, page.owner, member.userId);
      } catch (err) {
        if (err instanceof DomainError && err.code === 'conflict') {
          return render(ctx, 'member-remove', { ...base(ctx, `Remove ${member.email} · ${page.name}`, [...page.crumbs, { label: 'Remove member' }]), page, member, error: `${capitalize(err.message)}: make another member an administrator first.` }, { status: 409 });
        }
        throw err;
      }
      flash(ctx, `${member.email} is no longer a member of ${page.name}.`);
      seeOther(ctx, `${page.base}/access`);
    });

    const closePage = async (ctx: Context, page: OwnerPage, extra: { error?: string; status?: number } = {}) => {
      // Counted up to a cap through the list's index (an account's with its environments' in one count:
      // closed environments have none left): an exact count would read every keypair of a large owner.
      const counted = (await domain.keypairs.countTabs(kind === 'account' ? { accountId: page.account.id, acrossEnvironments: true } : page.owner, [])).all!;
      const environments: EnvironmentView[] = kind === 'account' ? (await domain.owners.listEnvironments(page.account.id)).filter((env) => env.status !== 'closed') : [];
      render(ctx, 'close', {
        ...base(ctx, `Close ${kind} · ${page.name}`, [...page.crumbs, { label: `Close ${kind}` }]),
        page, section: 'overview', keypairCount: counted.count, keypairCountExact: counted.exact, environments, error: extra.error ?? null,
      }, { status: extra.status ?? 200 });
    };

    router.get(`${path}/close`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'owner.close');
      if (page.target.status === 'closed') throw new UiError(409, 'Already closed', `This ${kind} is closed already.`, { href: page.base, label: `Back to ${page.name}` });
      await closePage(ctx, page);
    });

    router.post(`${path}/close`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'owner.close');
      if (page.target.status === 'closed') throw new UiError(409, 'Already closed', `This ${kind} is closed already.`, { href: page.base, label: `Back to ${page.name}` });
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

  router.post('/accounts/:id/keypair-lifetime', signedIn, async (ctx) => {
    const page = await authorizeOwner(ctx, domain, 'account', 'account.settings');
    const days = field(form(ctx), 'days', 10).trim();
    if (days !== '' && !/^\d{1,4}$/.test(days)) throw new UiError(400, 'Not a number of days', `The maximum keypair lifetime is a whole number of days from 1 to ${MAX_KEYPAIR_LIFETIME_DAYS}, or empty for no limit.`, { href: page.base, label: `Back to ${page.name}` });
    try {
      const account = await domain.owners.setMaxKeypairLifetime(page.account.id, days === '' ? null : Number(days), me(ctx).access.actor);
      flash(ctx, account.maxKeypairLifetimeDays === null ? 'New keypairs have no maximum lifetime.' : `New keypairs expire within ${account.maxKeypairLifetimeDays} days.`);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'invalid_input') throw new UiError(400, 'Not a valid lifetime', capitalize(err.message) + '.', { href: page.base, label: `Back to ${page.name}` });
      throw err;
    }
    seeOther(ctx, page.base);
  });

  router.post('/accounts/:id/environments', signedIn, async (ctx) => {
    const page = await authorizeOwner(ctx, domain, 'account', 'environment.create');
    const name = field(form(ctx), 'name', 200);
    // Two environments of one name in an account are most often a slip: ask once. The admin API does not ask.
    if (field(form(ctx), 'anyway', 10) !== 'yes') {
      const wanted = name.trim().toLowerCase();
      const same = (await domain.owners.listEnvironments(page.account.id)).find((env) => env.status !== 'closed' && env.name.toLowerCase() === wanted);
      if (wanted && same) return ownerPage(ctx, page, { name, warning: `This account has an environment named ${same.name} already.` }, 409);
    }
    const env = await domain.owners.createEnvironment(page.account.id, { name }, me(ctx).access.actor);
    flash(ctx, `Environment ${env.name} created.`);
    seeOther(ctx, `${UI_PREFIX}/environments/${env.id}`);
  });
}
