// Revoked token ids behind the RevocationStore contract (src/db/contract.ts).
import { trusted, type Model } from 'mongoose';
import type { RevocationStore } from './contract.ts';
import type { RevokedTokenDoc } from './models/revoked-token.ts';

export class MongooseRevocationStore implements RevocationStore {
  readonly #model: Model<RevokedTokenDoc>;

  constructor(model: Model<RevokedTokenDoc>) {
    this.#model = model;
  }

  async add(revocation: { jti: string; clientId: string; expiresAt: Date }): Promise<boolean> {
    const result = await this.#model.updateOne(
      { _id: revocation.jti },
      { $setOnInsert: { clientId: revocation.clientId, expiresAt: revocation.expiresAt } },
      { upsert: true },
    );
    return result.upsertedCount > 0;
  }

  async unexpired(now: Date): Promise<{ jti: string; expiresAt: Date }[]> {
    const docs = await this.#model.find({ expiresAt: trusted({ $gt: now }) }, { _id: 1, expiresAt: 1 }).lean<{ _id: string; expiresAt: Date }[]>();
    return docs.map((doc) => ({ jti: doc._id, expiresAt: doc.expiresAt }));
  }

  async deleteExpired(now: Date): Promise<void> {
    await this.#model.deleteMany({ expiresAt: trusted({ $lt: now }) });
  }
}
