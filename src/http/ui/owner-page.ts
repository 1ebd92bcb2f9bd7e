// The account or environment a page is about: loaded, authorized by the access
// policy (src/domain/access.ts), with what the signed-in user may do there and
// the breadcrumbs to it. Keypair pages resolve their keypair's owner the same way.
import type { Context } from 'koa';
import { can, reach, type Action, type ActorAccess, type Target } from '../../domain/access.ts';
import type { Domain } from '../../domain/index.ts';
import type { KeypairView } from '../../domain/keypairs.ts';
import type { AccountView, EnvironmentView, Owner } from '../../domain/owners.ts';
import { checkId, me, UI_PREFIX } from './page-helpers.ts';
import type { Crumb } from './render.ts';

export type Kind = 'account' | 'environment';

/** A request's context inside a route: with the path's parameters. */
export type RoutedContext = Context & { params: Record<string, string> };

/** Each kind of owner with the path of its pages: accounts and environments have the same pages. */
export const OWNER_PATHS = [['account', '/accounts/:id'], ['environment', '/environments/:id']] as const;

export interface OwnerPage {
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
  may: { read: boolean; manage: boolean; members: boolean; audit: boolean; close: boolean; createEnvironment: boolean; settings: boolean; webhooks: boolean };
  crumbs: Crumb[];
}

export async function ownerPage(domain: Domain, access: ActorAccess, target: Target): Promise<OwnerPage> {
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
      members: allowed('members.manage') && active,
      audit: allowed('audit.read'),
      close: allowed('owner.close') && target.status !== 'closed',
      createEnvironment: allowed('environment.create') && active,
      settings: allowed('account.settings') && active,
      webhooks: target.type === 'account' && allowed('webhooks.read'),
    },
    crumbs,
  };
}

export async function authorizeOwner(ctx: RoutedContext, domain: Domain, kind: Kind, action: Action): Promise<OwnerPage> {
  const { params } = ctx;
  const ref = kind === 'account' ? { accountId: checkId('accountId', params.id) } : { environmentId: checkId('environmentId', params.id) };
  const { access } = me(ctx);
  const { target } = await domain.access.authorize(access, action, ref);
  return ownerPage(domain, access, target);
}

export async function authorizeKeypair(ctx: RoutedContext, domain: Domain, action: Action): Promise<{ keypair: KeypairView; page: OwnerPage }> {
  const { params } = ctx;
  const keyId = checkId('keyId', params.keyId);
  const { access } = me(ctx);
  const { target, keypair } = await domain.access.authorize(access, action, { keyId });
  return { keypair: keypair!, page: await ownerPage(domain, access, target) };
}

export const keypairCrumbs = (page: OwnerPage, keypair: KeypairView, last?: string): Crumb[] => [
  ...page.crumbs,
  { label: 'API management', href: `${page.base}/keypairs` },
  last ? { label: keypair.name, href: `${UI_PREFIX}/keypairs/${keypair.keyId}` } : { label: keypair.name },
  ...(last ? [{ label: last }] : []),
];
