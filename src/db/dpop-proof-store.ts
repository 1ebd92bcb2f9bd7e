// DPoP proof records behind the DpopProofStore contract (src/db/contract.ts).
import { trusted, type Model } from 'mongoose';
import type { DpopProofStore } from './contract.ts';
import type { DpopProofDoc } from './models/dpop-proof.ts';

export class MongooseDpopProofStore implements DpopProofStore {
  readonly #model: Model<DpopProofDoc>;

  constructor(model: Model<DpopProofDoc>) {
    this.#model = model;
  }

  /**
   * One conditional upsert: it takes over an expired record, inserts a missing
   * one, and fails on the unique _id when an unexpired record exists, so that
   * of two concurrent claims only one succeeds, on MongoDB and FerretDB alike.
   */
  async claim(id: string, expiresAt: Date, now: Date): Promise<boolean> {
    try {
      const result = await this.#model.updateOne(
        { _id: id, expiresAt: trusted({ $lte: now }) },
        { $set: { expiresAt } },
        { upsert: true },
      );
      return result.upsertedCount > 0 || result.modifiedCount > 0;
    } catch (err) {
      if ((err as { code?: unknown }).code === 11000) return false;
      throw err;
    }
  }

  async deleteExpired(now: Date): Promise<void> {
    await this.#model.deleteMany({ expiresAt: trusted({ $lt: now }) });
  }
}
