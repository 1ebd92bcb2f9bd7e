// Keys that sign access tokens. The private key is stored encrypted (JWE, dir + A256GCM).
import { Schema } from 'mongoose';

export interface SigningKeyDoc {
  _id: string; // kid
  alg: string;
  publicJwk: Record<string, unknown>;
  encryptedPrivateJwk: string;
  createdAt: Date;
  /** Only the newest active key signs; all active keys are published in the JWKS. */
  active: boolean;
}

export const signingKeySchema = new Schema<SigningKeyDoc>({
  _id: { type: String, required: true },
  alg: { type: String, required: true },
  publicJwk: { type: Schema.Types.Mixed, required: true },
  encryptedPrivateJwk: { type: String, required: true },
  createdAt: { type: Date, required: true },
  active: { type: Boolean, required: true, default: true },
}, { versionKey: false, strict: 'throw' });
