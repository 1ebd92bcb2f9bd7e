// Admin sessions behind the SessionStore contract (src/db/contract.ts).
import { trusted, type Model } from 'mongoose';
import type { SessionStore } from './contract.ts';
import type { AdminSessionDoc } from './models/admin-session.ts';

export class MongooseSessionStore implements SessionStore {
  readonly #model: Model<AdminSessionDoc>;

  constructor(model: Model<AdminSessionDoc>) {
    this.#model = model;
  }

  find(id: string): Promise<{ data: Record<string, unknown>; expiresAt: Date } | null> {
    return this.#model.findById(id).lean<AdminSessionDoc>().exec();
  }

  async save(id: string, session: { data: Record<string, unknown>; userId: string | null; expiresAt: Date; updatedAt: Date }): Promise<void> {
    await this.#model.updateOne({ _id: id }, { $set: session }, { upsert: true });
  }

  async delete(id: string): Promise<void> {
    await this.#model.deleteOne({ _id: id });
  }

  async deleteForUser(userId: string): Promise<void> {
    await this.#model.deleteMany({ userId: String(userId) });
  }

  async deleteExpired(now: Date): Promise<void> {
    await this.#model.deleteMany({ expiresAt: trusted({ $lt: now }) });
  }
}
