// Keys that sign access tokens. The private key is stored encrypted (JWE, dir + A256GCM).
// Which key signs, and which are published, follows from the times below
// (src/domain/signing-key-schedule.ts), so that every process agrees.
import { Schema } from 'mongoose';
import type { SigningKeyRecord } from '../contract.ts';

// The stored shape is the contract's record (src/db/contract.ts).
export type SigningKeyDoc = SigningKeyRecord;

export const signingKeySchema = new Schema<SigningKeyDoc>({
  _id: { type: String, required: true },
  alg: { type: String, required: true },
  publicJwk: { type: Schema.Types.Mixed, required: true },
  encryptedPrivateJwk: { type: String, required: true },
  createdAt: { type: Date, required: true },
  generation: { type: Number, required: true },
  signFrom: { type: Date, required: true },
  revokedAt: { type: Date, default: null },
  rotationRecorded: { type: Boolean, required: true, default: false },
}, { versionKey: false, strict: 'throw' });
