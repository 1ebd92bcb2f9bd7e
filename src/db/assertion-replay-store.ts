// Single-use JWT ids behind the ReplayStore contract (src/db/contract.ts).
import { trusted, type Model } from 'mongoose';
import type { ReplayStore } from './contract.ts';
import type { AssertionReplayDoc } from './models/assertion-replay.ts';

const isDuplicateKey = (err: unknown) => typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;

export class MongooseReplayStore implements ReplayStore {
  readonly #model: Model<AssertionReplayDoc>;

  constructor(model: Model<AssertionReplayDoc>) {
    this.#model = model;
  }

  async claim(id: string, expiresAt: Date, now: Date): Promise<boolean> {
    try {
      // The _id's unique index makes the insert the atomic check, in every process and on every database.
      await this.#model.create({ _id: id, expiresAt });
      return true;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    // Taken: by an entry still in force (a replay), or by one that expired and was not swept yet.
    const reused = await this.#model.updateOne({ _id: id, expiresAt: trusted({ $lte: now }) }, { $set: { expiresAt } });
    return reused.modifiedCount > 0;
  }

  async deleteExpired(now: Date): Promise<void> {
    await this.#model.deleteMany({ expiresAt: trusted({ $lte: now }) });
  }
}
