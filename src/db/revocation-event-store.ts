// Revocation events behind the RevocationEventStore contract (src/db/contract.ts).
import { trusted, type Model } from 'mongoose';
import type { RevocationEventRecord, RevocationEventStore } from './contract.ts';
import type { RevocationEventDoc } from './models/revocation-event.ts';

export class MongooseRevocationEventStore implements RevocationEventStore {
  readonly #model: Model<RevocationEventDoc>;

  constructor(model: Model<RevocationEventDoc>) {
    this.#model = model;
  }

  async add(event: RevocationEventRecord): Promise<void> {
    await this.#model.create({
      kind: event.kind,
      subject: event.subject,
      ...(event.generationBelow !== undefined ? { generationBelow: event.generationBelow } : {}),
      at: event.at,
      expiresAt: event.expiresAt,
    });
  }

  async unexpired(now: Date): Promise<RevocationEventRecord[]> {
    const docs = await this.#model.find({ expiresAt: trusted({ $gt: now }) }, { _id: 0, kind: 1, subject: 1, generationBelow: 1, at: 1, expiresAt: 1 }).lean<RevocationEventRecord[]>();
    return docs;
  }

  async deleteExpired(now: Date): Promise<void> {
    await this.#model.deleteMany({ expiresAt: trusted({ $lt: now }) });
  }
}
