// Single-use ids already presented, kept until they could no longer be accepted
// anyway: client assertions (`jti:` + a hash of issuer and jti) and DPoP proofs
// (`dpop:` + a hash of key id and jti). The replay check of every process.
import { Schema } from 'mongoose';

export interface ReplayDoc {
  _id: string;
  expiresAt: Date;
}

export const replaySchema = new Schema<ReplayDoc>({
  _id: { type: String, required: true },
  expiresAt: { type: Date, required: true },
}, { versionKey: false, strict: 'throw' });
// Sweeping the expired entries (FerretDB v1 has no TTL indexes: Keyport deletes them itself).
replaySchema.index({ expiresAt: 1 });
