// The setup link's token behind the SetupTokenStore contract (src/db/contract.ts):
// one document, `setup`.
import { trusted, type Model } from 'mongoose';
import type { SetupTokenRecord, SetupTokenStore } from './contract.ts';
import type { SetupTokenDoc } from './models/setup-token.ts';

const SETUP_ID = 'setup';

export class MongooseSetupTokenStore implements SetupTokenStore {
  readonly #model: Model<SetupTokenDoc>;

  constructor(model: Model<SetupTokenDoc>) {
    this.#model = model;
  }

  find(): Promise<SetupTokenRecord | null> {
    return this.#model.findById(SETUP_ID).lean<SetupTokenDoc>().exec();
  }

  async replace(token: SetupTokenRecord): Promise<void> {
    await this.#model.updateOne({ _id: SETUP_ID }, { $set: token }, { upsert: true });
  }

  async claim(hash: string, now: Date, staleClaimBefore: Date): Promise<boolean> {
    const claimed = await this.#model.findOneAndUpdate(
      { _id: SETUP_ID, hash, expiresAt: trusted({ $gt: now }), $or: [{ claimedAt: null }, { claimedAt: trusted({ $lte: staleClaimBefore }) }] },
      { $set: { claimedAt: now } },
      { returnDocument: 'after' },
    ).lean<SetupTokenDoc>();
    return claimed !== null;
  }

  async release(hash: string): Promise<void> {
    await this.#model.updateOne({ _id: SETUP_ID, hash }, { $set: { claimedAt: null } });
  }

  async delete(hash?: string): Promise<void> {
    await this.#model.deleteOne(hash === undefined ? { _id: SETUP_ID } : { _id: SETUP_ID, hash });
  }
}
