// Client assertions (and other single-use JWTs) already presented, by a hash of
// issuer and jti, kept until the JWT expires: the replay check of every process.
import { Schema } from 'mongoose';

export interface AssertionReplayDoc {
  _id: string;
  expiresAt: Date;
}

export const assertionReplaySchema = new Schema<AssertionReplayDoc>({
  _id: { type: String, required: true },
  expiresAt: { type: Date, required: true },
}, { versionKey: false, strict: 'throw' });
// Sweeping the expired entries (FerretDB v1 has no TTL indexes: Keyport deletes them itself).
assertionReplaySchema.index({ expiresAt: 1 });
