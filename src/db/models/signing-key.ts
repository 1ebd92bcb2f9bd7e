// Keys that sign access tokens. The private key is stored encrypted (JWE, dir + A256GCM).
// Which key signs, and which are published, follows from the times below
// (src/domain/signing-key-schedule.ts), so that every process agrees.
import { Schema } from 'mongoose';

export interface SigningKeyDoc {
  _id: string; // kid
  alg: string;
  publicJwk: Record<string, unknown>;
  encryptedPrivateJwk: string;
  /** Published in the JWKS from this time. */
  createdAt: Date;
  /** 1, 2, 3…: the order in which the keys were made. */
  generation: number;
  /** Signs from this time, until a later key signs. */
  signFrom: Date;
  /** Revoked (compromised): out of the JWKS, its tokens refused. */
  revokedAt: Date | null;
  /** The audit trail already tells when this key took over. */
  rotationRecorded: boolean;
}

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
