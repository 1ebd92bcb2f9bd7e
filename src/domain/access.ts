// Who may do what to which owner: the one permission policy of the admin
// surfaces (REST API now, web UI later); see docs/architecture.md, Who may do what:
//
// - An account admin is an admin of every environment of that account. This is
//   computed here, at request time, from the account membership; it is never
//   copied into environment memberships.
// - An environment admin administers that environment only: never the account's
//   own keypairs, members or audit trail, never another environment.
// - A member (non-admin) may see the owner, but not its API management (403).
// - Anyone whose memberships do not reach an owner gets "not found", exactly as
//   for an owner that does not exist (404, same message).
// - A Keyport access token (automation) with keyport:read / keyport:manage acts
//   as an admin of its keypair's account only, limited to what those scopes
//   describe: keypairs and the audit trail (read, or read and manage). It never
//   manages members, renames or closes owners, or creates environments.
//   keyport:admin (infrastructure as code: the Terraform provider) adds the
//   account's shape: environments (create, rename, close), memberships and
//   webhook endpoints (where the account's events go, as an account admin). It is
//   a scope of its own so that no keyport:manage keypair gains these rights
//   without being granted them; it never closes or renames the account itself.
// - Accounts are created by operators only: the CLI, and users with the
//   instance-wide operator role. Nobody gets an account of their own by signing
//   in: tokens of every account share one audience, so a stranger's account
//   would be a way into every resource server that checks scopes alone.
// - A removed keypair's audit trail stays readable by whoever may read the
//   audit trail of its former owner (the owner is found in the trail itself).
//
// `can()` is a pure function of what the caller is and what the target is;
// AccessService loads both (memberships, owners) once per request.
import type { OwnerStatus } from '../db/contract.ts';
import type { Role } from '../db/contract.ts';
import type { Actor, AuditLog } from './audit.ts';
import { DomainError, invalidInput, notFound } from './errors.ts';
import type { KeypairService, KeypairView } from './keypairs.ts';
import type { AccountView, EnvironmentView, Owner, OwnerService } from './owners.ts';
import type { UserService, UserView } from './users.ts';

export const ADMIN_READ_SCOPE = 'keyport:read';
export const ADMIN_MANAGE_SCOPE = 'keyport:manage';
export const ADMIN_ACCOUNT_SCOPE = 'keyport:admin';
/** The scopes that give a token access to the admin API. */
export const ADMIN_API_SCOPES = [ADMIN_READ_SCOPE, ADMIN_MANAGE_SCOPE, ADMIN_ACCOUNT_SCOPE] as const;

/** The caller, as authenticated by an admin surface. */
export type Principal =
  | { kind: 'user'; userId: string; /** The instance-wide operator role. */ operator: boolean }
  | { kind: 'keypair'; keyId: string; accountId: string; scopes: string[] };

/** What the policy knows about the caller: its memberships (users) or its token's account and scopes (keypairs). */
export interface ActorAccess {
  principal: Principal;
  /** How the caller appears in the audit trail. */
  actor: Actor;
  /** accountId → role on the account itself. */
  accountRoles: ReadonlyMap<string, Role>;
  /** environmentId → role on that environment itself (not inherited) and the environment's account. */
  environmentRoles: ReadonlyMap<string, { accountId: string; role: Role }>;
}

export type Target =
  | { type: 'account'; accountId: string; environmentId: null; status: OwnerStatus }
  | { type: 'environment'; accountId: string; environmentId: string; status: OwnerStatus; accountStatus: OwnerStatus };

export const ACTIONS = [
  'owner.read',
  'owner.rename',
  'owner.close',
  'environment.create',
  'members.read',
  'members.manage',
  'keypairs.read',
  'keypairs.manage',
  'audit.read',
  'account.settings',
  'webhooks.read',
  'webhooks.manage',
] as const;
export type Action = typeof ACTIONS[number];

export type Decision = 'allow' | 'forbidden' | 'not_found';

const READ_ACTIONS: ReadonlySet<Action> = new Set(['owner.read', 'members.read', 'keypairs.read', 'audit.read', 'webhooks.read']);
/** For account admins only: the shape of an account, and where its events are sent (an endpoint's log shows every environment's events). */
const ACCOUNT_ADMIN_ACTIONS: ReadonlySet<Action> = new Set(['owner.close', 'environment.create', 'account.settings', 'webhooks.read', 'webhooks.manage']);
/** What a Keyport token may do at all, by scope. */
const TOKEN_ACTIONS: Record<typeof ADMIN_API_SCOPES[number], ReadonlySet<Action>> = {
  [ADMIN_READ_SCOPE]: new Set(['owner.read', 'keypairs.read', 'audit.read']),
  [ADMIN_MANAGE_SCOPE]: new Set(['owner.read', 'keypairs.read', 'audit.read', 'keypairs.manage']),
  [ADMIN_ACCOUNT_SCOPE]: new Set(['owner.read', 'keypairs.read', 'audit.read', 'keypairs.manage', 'owner.rename', 'owner.close', 'environment.create', 'members.read', 'members.manage', 'webhooks.read', 'webhooks.manage']),
};

/**
 * How far the caller reaches an owner: 'admin' and 'member' are roles (an
 * account role applies to every environment of the account); 'visitor' is an
 * environment member or admin looking at the account around its environment
 * (it may see the account's name, nothing else); null is "not reachable".
 */
export function reach(actor: ActorAccess, target: Pick<Target, 'type' | 'accountId' | 'environmentId'>): Role | 'visitor' | null {
  const { principal } = actor;
  if (principal.kind === 'keypair') return principal.accountId === target.accountId ? 'admin' : null;
  const accountRole = actor.accountRoles.get(target.accountId) ?? null;
  if (target.type === 'account') {
    if (accountRole) return accountRole;
    for (const membership of actor.environmentRoles.values()) if (membership.accountId === target.accountId) return 'visitor';
    return null;
  }
  const own = actor.environmentRoles.get(target.environmentId!);
  const environmentRole = own && own.accountId === target.accountId ? own.role : null;
  if (accountRole === 'admin' || environmentRole === 'admin') return 'admin';
  return accountRole ?? environmentRole;
}

/** The policy. 'not_found' must be answered exactly like an owner that does not exist. */
export function can(actor: ActorAccess, action: Action, target: Pick<Target, 'type' | 'accountId' | 'environmentId'>): Decision {
  const level = reach(actor, target);
  if (level === null) return 'not_found';
  if (action === 'owner.read') return 'allow';
  const { principal } = actor;
  if (principal.kind === 'keypair') {
    // A token's keypair belongs to the account: closing or renaming the account is for its people.
    if ((action === 'owner.close' || action === 'owner.rename') && target.type === 'account') return 'forbidden';
    const allowed = principal.scopes.some((scope) => (TOKEN_ACTIONS as Record<string, ReadonlySet<Action>>)[scope]?.has(action));
    return allowed ? 'allow' : 'forbidden';
  }
  if (level !== 'admin') return 'forbidden';
  // Changing the shape of an account (new environments, closing one), its settings and its webhooks are for account admins.
  if (ACCOUNT_ADMIN_ACTIONS.has(action) && actor.accountRoles.get(target.accountId) !== 'admin') return 'forbidden';
  return 'allow';
}

export const isReadAction = (action: Action) => READ_ACTIONS.has(action);

/** Creating an account is an operator's act: a user with the operator role (the CLI needs no policy). */
export function canCreateAccount(actor: ActorAccess): boolean {
  return actor.principal.kind === 'user' && actor.principal.operator;
}

export type TargetRef = { accountId: string } | { environmentId: string } | { keyId: string };

export class AccessService {
  readonly #users: UserService;
  readonly #owners: OwnerService;
  readonly #keypairs: KeypairService;
  readonly #audit: AuditLog;

  constructor(deps: { users: UserService; owners: OwnerService; keypairs: KeypairService; audit: AuditLog }) {
    this.#users = deps.users;
    this.#owners = deps.owners;
    this.#keypairs = deps.keypairs;
    this.#audit = deps.audit;
  }

  /** Loads the caller's memberships (users); a token carries its account in its claims. */
  async actorFor(principal: Principal): Promise<ActorAccess> {
    if (principal.kind === 'keypair') {
      return { principal, actor: `keypair:${principal.keyId}`, accountRoles: new Map(), environmentRoles: new Map() };
    }
    const memberships = await this.#users.membershipsOf(principal.userId);
    const accountRoles = new Map<string, Role>();
    const environmentRoles = new Map<string, { accountId: string; role: Role }>();
    for (const m of memberships) {
      if (m.environmentId) environmentRoles.set(m.environmentId, { accountId: m.accountId, role: m.role });
      else accountRoles.set(m.accountId, m.role);
    }
    return { principal, actor: `user:${principal.userId}`, accountRoles, environmentRoles };
  }

  /**
   * Resolves the target and applies the policy: throws not_found (also for what
   * the caller may not see), forbidden, or conflict for a change to an owner
   * that is closing or closed. Returns the target, and the keypair for a keyId.
   * For 'audit.read' a keyId may name a removed keypair: then `removedKeypair`
   * says so (and `keypair` is absent), and the policy is that of its former owner.
   */
  async authorize(actor: ActorAccess, action: Action, ref: TargetRef): Promise<{ target: Target; owner: Owner; keypair?: KeypairView; removedKeypair?: { keyId: string; name: string } }> {
    let target: Target;
    let keypair: KeypairView | undefined;
    let removedKeypair: { keyId: string; name: string } | undefined;
    let what: string;
    if ('keyId' in ref) {
      what = 'keypair';
      keypair = await this.#keypairs.get(ref.keyId).catch((err: unknown) => {
        if (!(action === 'audit.read' && err instanceof DomainError && err.code === 'not_found')) throw err;
        return undefined;
      });
      if (keypair) {
        target = keypair.environmentId
          ? await this.#environmentTarget(keypair.environmentId)
          : await this.#accountTarget(keypair.accountId);
      } else {
        // Gone from the keypairs, not from the audit trail: its events name its owner.
        const former = await this.#audit.formerKeypair(ref.keyId);
        if (!former) throw notFound('keypair');
        removedKeypair = { keyId: ref.keyId, name: former.name };
        target = await (former.environmentId ? this.#environmentTarget(former.environmentId) : this.#accountTarget(former.accountId))
          .catch((err: unknown) => { throw err instanceof DomainError && err.code === 'not_found' ? notFound('keypair') : err; });
      }
    } else if ('environmentId' in ref) {
      what = 'environment';
      target = await this.#environmentTarget(ref.environmentId);
    } else {
      what = 'account';
      target = await this.#accountTarget(ref.accountId);
    }
    const decision = can(actor, action, target);
    if (decision === 'not_found') throw notFound(what);
    if (decision === 'forbidden') throw new DomainError('forbidden', `not allowed: ${action}`, { action });
    if (!isReadAction(action) && action !== 'owner.close') {
      const closed = target.status !== 'active' ? target : target.type === 'environment' && target.accountStatus !== 'active' ? { type: 'account', status: target.accountStatus } : null;
      if (closed) throw new DomainError('conflict', `the ${closed.type} is ${closed.status}`, { status: closed.status });
    }
    const owner: Owner = target.type === 'account'
      ? { type: 'account', accountId: target.accountId, environmentId: null }
      : { type: 'environment', accountId: target.accountId, environmentId: target.environmentId };
    return keypair ? { target, owner, keypair } : removedKeypair ? { target, owner, removedKeypair } : { target, owner };
  }

  /** The accounts the caller reaches (as a member, an admin, or through one of their environments). */
  async visibleAccounts(actor: ActorAccess): Promise<AccountView[]> {
    const { principal } = actor;
    const ids = principal.kind === 'keypair'
      ? [principal.accountId]
      : [...new Set([...actor.accountRoles.keys(), ...[...actor.environmentRoles.values()].map((m) => m.accountId)])];
    return this.#owners.accountsByIds(ids);
  }

  /** The environments of an account that the caller reaches (call after authorize(owner.read) on the account). */
  async visibleEnvironments(actor: ActorAccess, accountId: string): Promise<EnvironmentView[]> {
    const all = await this.#owners.listEnvironments(accountId);
    return all.filter((env) => reach(actor, { type: 'environment', accountId, environmentId: env.id }) !== null);
  }

  /**
   * Account creation through the admin API and UI: operators only; the operator
   * becomes the new account's admin (and may then add its people and step back).
   * Members and admins of accounts or environments, and tokens, get forbidden.
   */
  async createAccount(actor: ActorAccess, input: { name: string }): Promise<AccountView> {
    const { principal } = actor;
    if (principal.kind !== 'user') throw new DomainError('forbidden', 'access tokens cannot create accounts');
    if (!canCreateAccount(actor)) throw new DomainError('forbidden', 'only operators can create accounts; ask an operator of this Keyport');
    const account = await this.#owners.createAccount(input, actor.actor);
    await this.#users.grant(principal.userId, { type: 'account', accountId: account.id, environmentId: null }, 'admin', actor.actor);
    return account;
  }

  /**
   * Adds a user (by email) to an owner with a role, or changes their role.
   * The user must exist already (users are created by an operator or at bootstrap).
   * An account keeps at least one admin (UserService.grant).
   */
  async addMember(actor: ActorAccess, owner: Owner, input: { email: string; role: Role }): Promise<{ userId: string; email: string; role: Role }> {
    const user: UserView | null = await this.#users.findByEmail(input.email);
    if (!user) throw invalidInput('no user has this email', { email: input.email });
    await this.#users.grant(user.id, owner, input.role, actor.actor);
    return { userId: user.id, email: user.email, role: input.role };
  }

  /** Removes a membership; an account keeps at least one admin (UserService.revoke). */
  async removeMember(actor: ActorAccess, owner: Owner, userId: string): Promise<void> {
    await this.#users.revoke(userId, owner, actor.actor);
  }

  async #accountTarget(accountId: string): Promise<Target> {
    const account = await this.#owners.getAccount(accountId);
    return { type: 'account', accountId: account.id, environmentId: null, status: account.status };
  }

  async #environmentTarget(environmentId: string): Promise<Target> {
    const env = await this.#owners.getEnvironment(environmentId);
    const account = await this.#owners.getAccount(env.accountId);
    return { type: 'environment', accountId: env.accountId, environmentId: env.id, status: env.status, accountStatus: account.status };
  }
}
