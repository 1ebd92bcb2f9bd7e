// Accounts and the environments that belong to them.
import { trusted } from 'mongoose';
import type { Models } from '../db/models/index.ts';
import type { AccountDoc, EnvironmentDoc, OwnerStatus } from '../db/models/owner.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { newId } from './credentials.ts';
import { invalidInput, notFound } from './errors.ts';
import { LRUCache } from 'lru-cache';
import type { Model } from 'mongoose';
import { readThrough } from './cache-fetch.ts';
import type { ChangeFeed } from './change-feed.ts';
import { SerialWrites } from '../db/serial-writes.ts';

/** What owns a keypair: an account, or one environment of an account. */
export type Owner =
  | { type: 'account'; accountId: string; environmentId: null }
  | { type: 'environment'; accountId: string; environmentId: string };

export interface AccountView { id: string; name: string; status: OwnerStatus; createdAt: string }
export interface EnvironmentView extends AccountView { accountId: string }

export function validName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string' || !name.trim() || name.length > 100) throw invalidInput(`${what} must be 1 to 100 characters`);
  return name.trim();
}

const accountView = (doc: AccountDoc): AccountView => ({ id: doc._id, name: doc.name, status: doc.status, createdAt: doc.createdAt.toISOString() });
const environmentView = (doc: EnvironmentDoc): EnvironmentView => ({ ...accountView(doc), accountId: doc.accountId });

export class OwnerService {
  readonly #models: Models;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #changes: ChangeFeed;
  /** Every update of an account or environment document (rename, status) goes through here (serial-writes.ts). */
  readonly #writes: SerialWrites;
  /**
   * Owner statuses, read on every token request: kept in process, cleared at once
   * here and within a poll elsewhere when a status changes (statusChanged()).
   * Ids are unique across kinds (acc_…, env_…).
   */
  readonly #statuses = new LRUCache<string, { status: OwnerStatus | null }>({
    max: 100_000,
    ttl: 60_000,
    allowStale: true, // refreshed in the background; a status change deletes the entry (statusChanged)
    fetchMethod: async (id) => {
      const model = (id.startsWith('env_') ? this.#models.Environment : this.#models.Account) as unknown as Model<AccountDoc>;
      const doc = await model.findById(id, { status: 1 }).lean<Pick<AccountDoc, 'status'>>();
      return { status: doc?.status ?? null };
    },
  });

  constructor(models: Models, audit: AuditLog, clock: Clock, changes: ChangeFeed) {
    this.#models = models;
    this.#audit = audit;
    this.#clock = clock;
    this.#changes = changes;
    this.#writes = new SerialWrites(models.Account.db, 'owner_write_leases');
    this.#changes.onChange((kind, key) => { if (kind === 'owner') this.#statuses.delete(key); });
  }

  /** Called by whatever changes an account's or environment's status (closing): every process's cache forgets it. */
  async statusChanged(ownerId: string): Promise<void> {
    await this.#changes.publish('owner', ownerId);
  }

  async createAccount(input: { name: string }, actor: Actor): Promise<AccountView> {
    const doc = await this.#models.Account.create({ _id: newId('acc'), name: validName(input.name), status: 'active', createdAt: this.#clock.now() });
    await this.#audit.record({ actor, action: 'account.created', accountId: doc._id, details: { name: doc.name } });
    return accountView(doc.toObject());
  }

  async createEnvironment(accountId: string, input: { name: string }, actor: Actor): Promise<EnvironmentView> {
    const account = await this.#activeAccount(accountId);
    const doc = await this.#models.Environment.create({
      _id: newId('env'), accountId: account._id, name: validName(input.name), status: 'active', createdAt: this.#clock.now(),
    });
    // Written first, checked after: an account closing meanwhile either sees this
    // environment (and closes it) or is seen here (and the environment is withdrawn).
    await this.afterCreating(() => this.#activeAccount(account._id), () => this.#models.Environment.deleteOne({ _id: doc._id }));
    await this.#audit.record({ actor, action: 'environment.created', accountId: account._id, environmentId: doc._id, details: { name: doc.name } });
    return environmentView(doc.toObject());
  }

  async getAccount(accountId: string): Promise<AccountView> {
    const doc = await this.#models.Account.findById(accountId).lean<AccountDoc>();
    if (!doc) throw notFound('account');
    return accountView(doc);
  }

  async getEnvironment(environmentId: string): Promise<EnvironmentView> {
    const doc = await this.#models.Environment.findById(environmentId).lean<EnvironmentDoc>();
    if (!doc) throw notFound('environment');
    return environmentView(doc);
  }

  async listAccounts(): Promise<AccountView[]> {
    const docs = await this.#models.Account.find({}).sort({ createdAt: 1 }).lean<AccountDoc[]>();
    return docs.map(accountView);
  }

  async listEnvironments(accountId: string): Promise<EnvironmentView[]> {
    const docs = await this.#models.Environment.find({ accountId }).sort({ createdAt: 1 }).lean<EnvironmentDoc[]>();
    return docs.map(environmentView);
  }

  /** The accounts with these ids (the ones a user is a member of), oldest first. */
  async accountsByIds(ids: string[]): Promise<AccountView[]> {
    if (!ids.length) return [];
    const docs = await this.#models.Account.find({ _id: trusted({ $in: ids.map(String) }) }).sort({ createdAt: 1, _id: 1 }).lean<AccountDoc[]>();
    return docs.map(accountView);
  }

  async renameAccount(accountId: string, name: string, actor: Actor): Promise<AccountView> {
    const newName = validName(name);
    const before = await this.getAccount(accountId);
    const doc = await this.#writes.run(before.id, () => this.#models.Account.findOneAndUpdate({ _id: before.id }, { $set: { name: newName } }, { returnDocument: 'after' }).lean<AccountDoc>());
    if (!doc) throw notFound('account');
    await this.#audit.record({ actor, action: 'account.renamed', accountId: doc._id, details: { from: before.name, to: newName } });
    return accountView(doc);
  }

  async renameEnvironment(environmentId: string, name: string, actor: Actor): Promise<EnvironmentView> {
    const newName = validName(name);
    const before = await this.getEnvironment(environmentId);
    const doc = await this.#writes.run(before.id, () => this.#models.Environment.findOneAndUpdate({ _id: before.id }, { $set: { name: newName } }, { returnDocument: 'after' }).lean<EnvironmentDoc>());
    if (!doc) throw notFound('environment');
    await this.#audit.record({ actor, action: 'environment.renamed', accountId: doc.accountId, environmentId: doc._id, details: { from: before.name, to: newName } });
    return environmentView(doc);
  }

  /**
   * Moves an owner from one status to the next if it is still in the first
   * (closing.ts), and tells every process's cache. Returns whether it did.
   */
  async transition(type: 'account' | 'environment', id: string, from: OwnerStatus, to: OwnerStatus): Promise<boolean> {
    const model = (type === 'account' ? this.#models.Account : this.#models.Environment) as unknown as Model<AccountDoc>;
    const stamp = to === 'closing' ? { closingAt: this.#clock.now() } : to === 'closed' ? { closedAt: this.#clock.now() } : {};
    const result = await this.#writes.run(id, () => model.updateOne({ _id: id, status: from }, { $set: { status: to, ...stamp } }));
    await this.statusChanged(id);
    return result.modifiedCount > 0;
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
      const env = await this.#models.Environment.findById(ref.environmentId).lean<EnvironmentDoc>();
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

  async #activeAccount(accountId: string): Promise<AccountDoc> {
    const account = await this.#models.Account.findById(accountId).lean<AccountDoc>();
    if (!account) throw notFound('account');
    if (account.status !== 'active') throw invalidInput(`account ${account._id} is ${account.status}`);
    return account;
  }
}
