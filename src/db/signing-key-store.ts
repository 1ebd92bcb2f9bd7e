// Token signing keys behind the SigningKeyStore contract (src/db/contract.ts).
import type { Model } from 'mongoose';
import type { SigningKeyRecord, SigningKeyStore } from './contract.ts';
import type { SigningKeyDoc } from './models/signing-key.ts';
import { SerialWrites } from './serial-writes.ts';

const LEASE = 'signing-keys';

export class MongooseSigningKeyStore implements SigningKeyStore {
  readonly #model: Model<SigningKeyDoc>;
  readonly #turns: SerialWrites;

  constructor(model: Model<SigningKeyDoc>) {
    this.#model = model;
    // 'always': the rule spans every key document, which no single atomic update can hold.
    this.#turns = new SerialWrites(model.db, 'signing_key_write_leases', { leases: 'always' });
  }

  all(): Promise<SigningKeyRecord[]> {
    return this.#model.find().lean<SigningKeyDoc[]>().exec();
  }

  async insert(key: SigningKeyRecord): Promise<void> {
    await this.#model.create(key);
  }

  async update(kid: string, set: Partial<Pick<SigningKeyRecord, 'signFrom' | 'revokedAt' | 'rotationRecorded'>>): Promise<void> {
    await this.#model.updateOne({ _id: kid }, { $set: set });
  }

  async upgrade(kid: string, set: Pick<SigningKeyRecord, 'generation' | 'signFrom' | 'revokedAt' | 'rotationRecorded'>): Promise<void> {
    // Through the driver: `active` is no longer in the schema, which refuses unknown fields.
    await this.#model.collection.updateOne({ _id: kid as never }, { $set: set, $unset: { active: '' } });
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.#turns.run(LEASE, work);
  }
}
