// Revocations that reach every token of a credential (a keypair's older token
// generations, a removed keypair, a closed account or environment), kept for
// the revocation feed (src/domain/revocation-feed.ts) until the last token they
// can affect has expired. One document per event: the feed merges them.
import { Schema, Types } from 'mongoose';

export interface RevocationEventDoc {
  _id: Types.ObjectId;
  /** keypair: `subject` is a key id; account / environment: an owner's id. */
  kind: 'keypair' | 'account' | 'environment';
  subject: string;
  /** keypair only: tokens of a generation below this one are revoked; absent: every token of the keypair (removed). */
  generationBelow?: number;
  at: Date;
  /** When every token issued before `at` has expired: the event is of no use after it. */
  expiresAt: Date;
}

export const revocationEventSchema = new Schema<RevocationEventDoc>({
  kind: { type: String, enum: ['keypair', 'account', 'environment'], required: true },
  subject: { type: String, required: true },
  generationBelow: { type: Number },
  at: { type: Date, required: true },
  expiresAt: { type: Date, required: true },
}, { versionKey: false, strict: 'throw' });
revocationEventSchema.index({ expiresAt: 1 });
