// Users and memberships behind the UserStore and MembershipStore contracts
// (src/db/contract.ts).
import { trusted, type Model } from 'mongoose';
import type { MembershipOwner, MembershipRecord, MembershipStore, Role, UserRecord, UserStore } from './contract.ts';
import type { Models } from './models/index.ts';
import type { MembershipDoc, UserDoc } from './models/user.ts';
import { SerialWrites } from './serial-writes.ts';

/**
 * 'account:<id>' or 'environment:<id>': unique together with the user id. A
 * string, not the nullable environmentId, because SQLite (under FerretDB)
 * treats NULLs in a unique index as distinct.
 */
const ownerKeyOf = (owner: MembershipOwner) => (owner.environmentId === null ? `account:${owner.accountId}` : `environment:${owner.environmentId}`);

export class MongooseUserStore implements UserStore {
  readonly #model: Model<UserDoc>;

  constructor(model: Model<UserDoc>) {
    this.#model = model;
  }

  async insert(user: Required<UserRecord>): Promise<UserRecord | null> {
    try {
      return (await this.#model.create(user)).toObject();
    } catch (err) {
      if ((err as { code?: number }).code === 11000) return null;
      throw err;
    }
  }

  findById(userId: string): Promise<UserRecord | null> {
    return this.#model.findById(String(userId)).lean<UserDoc>().exec();
  }

  findByEmail(email: string): Promise<UserRecord | null> {
    return this.#model.findOne({ email }).lean<UserDoc>().exec();
  }

  findByIds(userIds: string[]): Promise<UserRecord[]> {
    return this.#model.find({ _id: trusted({ $in: userIds }) }).lean<UserDoc[]>().exec();
  }

  async exists(userId: string): Promise<boolean> {
    return (await this.#model.exists({ _id: userId })) !== null;
  }

  count(): Promise<number> {
    return this.#model.countDocuments({}).exec();
  }

  setOperator(userId: string, operator: boolean): Promise<UserRecord | null> {
    return this.#model.findOneAndUpdate({ _id: String(userId) }, { $set: { operator } }, { returnDocument: 'before' }).lean<UserDoc>().exec();
  }
}

export class MongooseMembershipStore implements MembershipStore {
  readonly #model: Model<MembershipDoc>;
  /** Membership changes of one owner take turns, in every process (the last-admin rule spans documents). */
  readonly #turns: SerialWrites;

  constructor(models: Pick<Models, 'Membership'>) {
    this.#model = models.Membership;
    this.#turns = new SerialWrites(models.Membership.db, 'membership_write_leases', { leases: 'always' });
  }

  ofUser(userId: string): Promise<MembershipRecord[]> {
    return this.#model.find({ userId: String(userId) }).lean<MembershipDoc[]>().exec();
  }

  onOwner(owner: MembershipOwner): Promise<MembershipRecord[]> {
    return this.#model.find({ ownerKey: ownerKeyOf(owner) }).sort({ createdAt: 1, _id: 1 }).lean<MembershipDoc[]>().exec();
  }

  find(userId: string, owner: MembershipOwner): Promise<MembershipRecord | null> {
    return this.#model.findOne({ userId: String(userId), ownerKey: ownerKeyOf(owner) }).lean<MembershipDoc>().exec();
  }

  countAdmins(owner: MembershipOwner): Promise<number> {
    return this.#model.countDocuments({ ownerKey: ownerKeyOf(owner), role: 'admin' }).exec();
  }

  async upsert(userId: string, owner: MembershipOwner, role: Role, created: { id: string; createdAt: Date }): Promise<void> {
    await this.#model.updateOne(
      { userId, ownerKey: ownerKeyOf(owner) },
      { $set: { role }, $setOnInsert: { _id: created.id, accountId: owner.accountId, environmentId: owner.environmentId, createdAt: created.createdAt } },
      { upsert: true },
    );
  }

  delete(userId: string, owner: MembershipOwner): Promise<MembershipRecord | null> {
    return this.#model.findOneAndDelete({ userId: String(userId), ownerKey: ownerKeyOf(owner) }).lean<MembershipDoc>().exec();
  }

  exclusive<T>(owner: MembershipOwner, work: () => Promise<T>): Promise<T> {
    return this.#turns.run(ownerKeyOf(owner), work);
  }
}
