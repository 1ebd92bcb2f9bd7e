// Signed-in administrators (koa-session's external store). The document's _id is
// the SHA-256 of the session key in the cookie, so that a copy of this
// collection does not let anyone sign in as somebody else.
import { Schema } from 'mongoose';

export interface AdminSessionDoc {
  _id: string;
  userId: string | null;
  /** What koa-session keeps for the session: the user id, the CSRF token, its own expiry fields. */
  data: Record<string, unknown>;
  expiresAt: Date;
  updatedAt: Date;
}

export const adminSessionSchema = new Schema<AdminSessionDoc>({
  _id: { type: String, required: true },
  userId: { type: String, default: null },
  data: { type: Schema.Types.Mixed, required: true },
  expiresAt: { type: Date, required: true },
  updatedAt: { type: Date, required: true },
}, { versionKey: false, strict: 'throw', minimize: false });
adminSessionSchema.index({ expiresAt: 1 });
adminSessionSchema.index({ userId: 1 });
