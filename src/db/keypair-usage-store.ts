// Daily usage per keypair behind the KeypairUsageStore contract (src/db/contract.ts).
import { trusted, type Model } from 'mongoose';
import type { KeypairUsageDay, KeypairUsageStore } from './contract.ts';
import type { KeypairUsageDayDoc } from './models/keypair-usage-day.ts';

const dayKey = (day: Date) => day.toISOString().slice(0, 10);
const idOf = (keyId: string, day: Date) => `${keyId}|${dayKey(day)}`;

export class MongooseKeypairUsageStore implements KeypairUsageStore {
  readonly #model: Model<KeypairUsageDayDoc>;

  constructor(model: Model<KeypairUsageDayDoc>) {
    this.#model = model;
  }

  async add(keyId: string, day: Date, counts: { authenticated?: number; failed?: number }): Promise<void> {
    const inc: Record<string, number> = {};
    if (counts.authenticated) inc.authenticated = counts.authenticated;
    if (counts.failed) inc.failed = counts.failed;
    if (!Object.keys(inc).length) return;
    // One upsert: atomic on MongoDB and on Keyport's FerretDB build, so counts from several processes add up.
    await this.#model.updateOne({ _id: idOf(keyId, day) }, { $inc: inc, $setOnInsert: { keyId, day } }, { upsert: true });
  }

  async days(keyId: string, days: Date[]): Promise<KeypairUsageDay[]> {
    // Point reads by _id (in parallel): FerretDB v1 pushes down nothing else, so a query by keyId would scan every day of every key.
    const docs = await Promise.all(days.map((day) => this.#model.findById(idOf(keyId, day)).lean<KeypairUsageDayDoc>()));
    return days.map((day, i) => ({ day, authenticated: docs[i]?.authenticated ?? 0, failed: docs[i]?.failed ?? 0 }));
  }

  async deleteBefore(day: Date): Promise<void> {
    await this.#model.deleteMany({ day: trusted({ $lt: day }) });
  }
}
