// Single-use ids (client assertions, DPoP proofs) behind the ReplayStore contract (src/db/contract.ts).
import { trusted, type Model } from 'mongoose';
import type { ReplayStore } from './contract.ts';
import type { ReplayDoc } from './models/replay.ts';

const isDuplicateKey = (err: unknown) => typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;

export class MongooseReplayStore implements ReplayStore {
  readonly #model: Model<ReplayDoc>;

  constructor(model: Model<ReplayDoc>) {
    this.#model = model;
  }

  async claim(id: string, expiresAt: Date, now: Date): Promise<boolean> {
    if (await this.#insert(id, expiresAt)) return true;
    // Taken: by an entry still in force (a replay), or by one that expired and was not swept yet.
    // That one is deleted and the insert tried once more: the unique _id still decides, so that
    // of two requests racing for the same id only one can win (a conditional update could not
    // promise that on FerretDB v1, whose updates are not atomic).
    const swept = await this.#model.deleteOne({ _id: id, expiresAt: trusted({ $lte: now }) });
    return swept.deletedCount > 0 && this.#insert(id, expiresAt);
  }

  /** One insert on the unique _id: true when this call recorded the id. */
  async #insert(id: string, expiresAt: Date): Promise<boolean> {
    try {
      await this.#model.create({ _id: id, expiresAt });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async deleteExpired(now: Date): Promise<void> {
    await this.#model.deleteMany({ expiresAt: trusted({ $lte: now }) });
  }
}
