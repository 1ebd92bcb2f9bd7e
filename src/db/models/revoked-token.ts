// Access tokens revoked before their expiry (RFC 7009). JWTs are not stored, so
// revocation records the jti until the token would have expired anyway.
import { Schema } from 'mongoose';

export interface RevokedTokenDoc {
  _id: string; // jti
  clientId: string;
  expiresAt: Date;
}

export const revokedTokenSchema = new Schema<RevokedTokenDoc>({
  _id: { type: String, required: true },
  clientId: { type: String, required: true },
  expiresAt: { type: Date, required: true },
}, { versionKey: false, strict: 'throw' });
revokedTokenSchema.index({ expiresAt: 1 });
