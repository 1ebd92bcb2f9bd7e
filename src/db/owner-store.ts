// Accounts and environments behind the OwnerStore contract (src/db/contract.ts).
import { trusted, type Model } from 'mongoose';
import type { AccountRecord, ChangeFeed, EnvironmentRecord, OwnerStatus, OwnerStore, OwnerType } from './contract.ts';
import type { Models } from './models/index.ts';
import { SerialWrites } from './serial-writes.ts';

export class MongooseOwnerStore implements OwnerStore {
  readonly #accounts: Model<AccountRecord>;
  readonly #environments: Model<EnvironmentRecord>;
  readonly #changes: ChangeFeed;
  /** Every update of an account or environment document (rename, status) goes through here (serial-writes.ts). */
  readonly #writes: SerialWrites;

  constructor(models: Pick<Models, 'Account' | 'Environment'>, changes: ChangeFeed) {
    this.#accounts = models.Account;
    this.#environments = models.Environment;
    this.#changes = changes;
    this.#writes = new SerialWrites(models.Account.db, 'owner_write_leases');
  }

  #model(type: OwnerType): Model<AccountRecord> {
    return (type === 'account' ? this.#accounts : this.#environments) as unknown as Model<AccountRecord>;
  }

  async insertAccount(account: Pick<AccountRecord, '_id' | 'name' | 'createdAt'>): Promise<AccountRecord> {
    return (await this.#accounts.create({ ...account, status: 'active' })).toObject();
  }

  async insertEnvironment(environment: Pick<EnvironmentRecord, '_id' | 'accountId' | 'name' | 'createdAt'>): Promise<EnvironmentRecord> {
    return (await this.#environments.create({ ...environment, status: 'active' })).toObject();
  }

  async deleteEnvironment(environmentId: string): Promise<void> {
    await this.#environments.deleteOne({ _id: environmentId });
  }

  findAccount(accountId: string): Promise<AccountRecord | null> {
    return this.#accounts.findById(accountId).lean<AccountRecord>().exec();
  }

  findEnvironment(environmentId: string): Promise<EnvironmentRecord | null> {
    return this.#environments.findById(environmentId).lean<EnvironmentRecord>().exec();
  }

  async findStatus(ownerId: string): Promise<OwnerStatus | null> {
    const doc = await this.#model(ownerId.startsWith('env_') ? 'environment' : 'account').findById(ownerId, { status: 1 }).lean<Pick<AccountRecord, 'status'>>();
    return doc?.status ?? null;
  }

  listAccounts(): Promise<AccountRecord[]> {
    return this.#accounts.find({}).sort({ createdAt: 1 }).lean<AccountRecord[]>().exec();
  }

  async accountsByIds(ids: string[]): Promise<AccountRecord[]> {
    if (!ids.length) return [];
    return this.#accounts.find({ _id: trusted({ $in: ids.map(String) }) }).sort({ createdAt: 1, _id: 1 }).lean<AccountRecord[]>();
  }

  async environmentsByIds(ids: string[]): Promise<EnvironmentRecord[]> {
    if (!ids.length) return [];
    return this.#environments.find({ _id: trusted({ $in: ids.map(String) }) }).lean<EnvironmentRecord[]>();
  }

  listEnvironments(accountId: string, options: { notClosed?: boolean } = {}): Promise<EnvironmentRecord[]> {
    const filter: Record<string, unknown> = options.notClosed ? { accountId, status: trusted({ $ne: 'closed' }) } : { accountId };
    const query = this.#environments.find(filter);
    return (options.notClosed ? query : query.sort({ createdAt: 1 })).lean<EnvironmentRecord[]>().exec();
  }

  async idsWithStatus(type: OwnerType, status: OwnerStatus): Promise<string[]> {
    const docs = await this.#model(type).find({ status }, { _id: 1 }).lean<Pick<AccountRecord, '_id'>[]>();
    return docs.map((doc) => doc._id);
  }

  rename<T extends OwnerType>(type: T, id: string, name: string): Promise<(T extends 'account' ? AccountRecord : EnvironmentRecord) | null> {
    return this.#writes.run(id, () => this.#model(type).findOneAndUpdate({ _id: id }, { $set: { name } }, { returnDocument: 'after' }).lean()) as Promise<(T extends 'account' ? AccountRecord : EnvironmentRecord) | null>;
  }

  setMaxKeypairLifetime(accountId: string, days: number | null): Promise<AccountRecord | null> {
    return this.#writes.run(accountId, () => this.#accounts.findOneAndUpdate({ _id: accountId }, { $set: { maxKeypairLifetimeDays: days } }, { returnDocument: 'after' }).lean<AccountRecord>());
  }

  async transition(type: OwnerType, id: string, from: OwnerStatus, to: OwnerStatus, at: Date): Promise<boolean> {
    const stamp = to === 'closing' ? { closingAt: at } : to === 'closed' ? { closedAt: at } : {};
    const result = await this.#writes.run(id, () => this.#model(type).updateOne({ _id: id, status: from }, { $set: { status: to, ...stamp } }));
    await this.#changes.publish('owner', id);
    return result.modifiedCount > 0;
  }
}
