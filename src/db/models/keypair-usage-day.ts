// A keypair's authentications and failures on one UTC day, for its 30-day chart:
// one document per key and day, added to by the batched usage and failure writes
// (never a write per request), kept 90 days.
import { Schema } from 'mongoose';

export interface KeypairUsageDayDoc {
  /** `<key id>|<YYYY-MM-DD>`: a day's document is found by _id, the one lookup FerretDB v1 answers from an index. */
  _id: string;
  keyId: string;
  day: Date;
  authenticated: number;
  failed: number;
}

export const keypairUsageDaySchema = new Schema<KeypairUsageDayDoc>({
  _id: { type: String, required: true },
  keyId: { type: String, required: true },
  day: { type: Date, required: true },
  authenticated: { type: Number, default: 0 },
  failed: { type: Number, default: 0 },
}, { versionKey: false, strict: 'throw' });
// Dropping days past the retention.
keypairUsageDaySchema.index({ day: 1 });
