// Accounts and the environments that belong to them.
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { newId } from './credentials.ts';
import { invalidInput, notFound } from './errors.ts';
import { NAME_MAX } from './limits.ts';
import { validMaxLifetime } from './expiry.ts';
import { LRUCache } from 'lru-cache';
import { readThrough } from '../db/read-through.ts';
import type { AccountRecord, ChangeFeed, EnvironmentRecord, OwnerStatus, OwnerStore } from '../db/contract.ts';

export type { OwnerStatus } from '../db/contract.ts';

/** What owns a keypair: an account, or one environment of an account. */
export type Owner =
  | { type: 'account'; accountId: string; environmentId: null }
  | { type: 'environment'; accountId: string; environmentId: string };

interface OwnerView { id: string; name: string; status: OwnerStatus; createdAt: string }
export interface AccountView extends OwnerView {
  /** The longest lifetime, in days, of a new keypair of the account or its environments; null: no limit. */
  maxKeypairLifetimeDays: number | null;
}
export interface EnvironmentView extends OwnerView { accountId: string }

export function validName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string' || !name.trim() || name.length > NAME_MAX) throw invalidInput(`${what} must be 1 to ${NAME_MAX} characters`);
  return name.trim();
}

const ownerView = (doc: AccountRecord): OwnerView => ({ id: doc._id, name: doc.name, status: doc.status, createdAt: doc.createdAt.toISOString() });
const accountView = (doc: AccountRecord): AccountView => ({ ...ownerView(doc), maxKeypairLifetimeDays: doc.maxKeypairLifetimeDays ?? null });
const environmentView = (doc: EnvironmentRecord): EnvironmentView => ({ ...ownerView(doc), accountId: doc.accountId });

export class OwnerService {
  readonly #store: OwnerStore;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #changes: ChangeFeed;
  /**
   * Owner statuses, read on every token request: kept in process, cleared at once
   * here and within a poll elsewhere when a status changes (statusChanged()).
   * Ids are unique across kinds (acc_…, env_…).
   */
  readonly #statuses = new LRUCache<string, { status: OwnerStatus | null }>({
    max: 100_000,
    ttl: 60_000,
    allowStale: true, // refreshed in the background; a status change deletes the entry (statusChanged)
    fetchMethod: async (id) => ({ status: await this.#store.findStatus(id) }),
  });

  constructor(store: OwnerStore, audit: AuditLog, clock: Clock, changes: ChangeFeed) {
    this.#store = store;
    this.#audit = audit;
    this.#clock = clock;
    this.#changes = changes;
    this.#changes.onChange((kind, key) => { if (kind === 'owner') this.#statuses.delete(key); });
  }

  /** Called by whatever changes an account's or environment's status (closing): every process's cache forgets it. */
  async statusChanged(ownerId: string): Promise<void> {
    await this.#changes.publish('owner', ownerId);
  }

  async createAccount(input: { name: string }, actor: Actor): Promise<AccountView> {
    const doc = await this.#store.insertAccount({ _id: newId('acc'), name: validName(input.name), createdAt: this.#clock.now() });
    await this.#audit.record({ actor, action: 'account.created', accountId: doc._id, details: { name: doc.name } });
    return accountView(doc);
  }

  async createEnvironment(accountId: string, input: { name: string }, actor: Actor): Promise<EnvironmentView> {
    const account = await this.#activeAccount(accountId);
    const doc = await this.#store.insertEnvironment({
      _id: newId('env'), accountId: account._id, name: validName(input.name), createdAt: this.#clock.now(),
    });
    // Written first, checked after: an account closing meanwhile either sees this
    // environment (and closes it) or is seen here (and the environment is withdrawn).
    await this.afterCreating(() => this.#activeAccount(account._id), () => this.#store.deleteEnvironment(doc._id));
    await this.#audit.record({ actor, action: 'environment.created', accountId: account._id, environmentId: doc._id, details: { name: doc.name } });
    return environmentView(doc);
  }

  async getAccount(accountId: string): Promise<AccountView> {
    const doc = await this.#store.findAccount(accountId);
    if (!doc) throw notFound('account');
    return accountView(doc);
  }

  async getEnvironment(environmentId: string): Promise<EnvironmentView> {
    const doc = await this.#store.findEnvironment(environmentId);
    if (!doc) throw notFound('environment');
    return environmentView(doc);
  }

  async listAccounts(): Promise<AccountView[]> {
    const docs = await this.#store.listAccounts();
    return docs.map(accountView);
  }

  async listEnvironments(accountId: string): Promise<EnvironmentView[]> {
    const docs = await this.#store.listEnvironments(accountId);
    return docs.map(environmentView);
  }

  /** The accounts with these ids (the ones a user is a member of), oldest first. */
  async accountsByIds(ids: string[]): Promise<AccountView[]> {
    if (!ids.length) return [];
    const docs = await this.#store.accountsByIds(ids);
    return docs.map(accountView);
  }

  async renameAccount(accountId: string, name: string, actor: Actor): Promise<AccountView> {
    const newName = validName(name);
    const before = await this.getAccount(accountId);
    const doc = await this.#store.rename('account', before.id, newName);
    if (!doc) throw notFound('account');
    await this.#audit.record({ actor, action: 'account.renamed', accountId: doc._id, details: { from: before.name, to: newName } });
    return accountView(doc);
  }

  async renameEnvironment(environmentId: string, name: string, actor: Actor): Promise<EnvironmentView> {
    const newName = validName(name);
    const before = await this.getEnvironment(environmentId);
    const doc = await this.#store.rename('environment', before.id, newName);
    if (!doc) throw notFound('environment');
    await this.#audit.record({ actor, action: 'environment.renamed', accountId: doc.accountId, environmentId: doc._id, details: { from: before.name, to: newName } });
    return environmentView(doc);
  }

  /**
   * Sets the longest lifetime of new keypairs of the account and its
   * environments (null: no limit). Keypairs that exist keep their expiry; the
   * limit applies when one is created, replaced or given a new expiry date.
   */
  async setMaxKeypairLifetime(accountId: string, days: number | null, actor: Actor): Promise<AccountView> {
    const value = validMaxLifetime(days);
    const before = await this.#activeAccount(accountId);
    const doc = await this.#store.setMaxKeypairLifetime(before._id, value);
    if (!doc) throw notFound('account');
    await this.#audit.record({ actor, action: 'account.updated', accountId: doc._id, details: { maxKeypairLifetimeDays: { from: before.maxKeypairLifetimeDays ?? null, to: value } } });
    return accountView(doc);
  }

  /** The account's maximum keypair lifetime in days (null: none), read from the database. */
  async maxKeypairLifetimeDays(accountId: string): Promise<number | null> {
    const account = await this.#store.findAccount(accountId);
    return account?.maxKeypairLifetimeDays ?? null;
  }

  /**
   * Moves an owner from one status to the next if it is still in the first
   * (closing.ts), and tells every process's cache. Returns whether it did.
   */
  async transition(type: 'account' | 'environment', id: string, from: OwnerStatus, to: OwnerStatus): Promise<boolean> {
    return this.#store.transition(type, id, from, to, this.#clock.now());
  }

  /**
   * The second half of creating something inside an owner (an environment, a
   * keypair) without a transaction: the new document is written first, then the
   * owner is checked again. A close that began meanwhile has either already
   * marked the owner (seen here: the document is withdrawn and the creation
   * fails) or has not, and then its removal step, which comes after the mark,
   * finds the new document. Either way nothing survives in a closed owner.
   */
  async afterCreating(stillActive: () => Promise<unknown>, withdraw: () => Promise<unknown>): Promise<void> {
    try {
      await stillActive();
    } catch (err) {
      await withdraw();
      throw err;
    }
  }

  /** Resolves an owner for new keypairs: it must exist and be active. */
  async resolveActiveOwner(ref: { accountId?: string; environmentId?: string }): Promise<Owner> {
    if (ref.environmentId) {
      const env = await this.#store.findEnvironment(ref.environmentId);
      if (!env || (ref.accountId && env.accountId !== ref.accountId)) throw notFound('environment');
      if (env.status !== 'active') throw invalidInput(`environment ${env._id} is ${env.status}`);
      await this.#activeAccount(env.accountId);
      return { type: 'environment', accountId: env.accountId, environmentId: env._id };
    }
    if (!ref.accountId) throw invalidInput('an account or an environment is required');
    const account = await this.#activeAccount(ref.accountId);
    return { type: 'account', accountId: account._id, environmentId: null };
  }

  /** True when the owner and (for an environment) its account are active: only then do its keypairs get tokens. */
  async isActive(owner: { accountId: string; environmentId: string | null }): Promise<boolean> {
    // One after the other: both are almost always in the cache, read without a promise.
    const account = await readThrough(this.#statuses, owner.accountId);
    if (account?.status !== 'active') return false;
    return !owner.environmentId || (await readThrough(this.#statuses, owner.environmentId))?.status === 'active';
  }

  async #activeAccount(accountId: string): Promise<AccountRecord> {
    const account = await this.#store.findAccount(accountId);
    if (!account) throw notFound('account');
    if (account.status !== 'active') throw invalidInput(`account ${account._id} is ${account.status}`);
    return account;
  }
}
