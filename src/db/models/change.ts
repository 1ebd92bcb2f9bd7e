// A short-lived log of changes that matter to in-process caches (keypairs,
// owner statuses, revoked tokens, signing keys), so that every Keyport process sees another's
// changes: the server's workers, the CLI, other hosts. Entries are trimmed after
// 20 seconds (src/db/change-feed.ts).
import { Schema, Types } from 'mongoose';

export interface ChangeDoc {
  _id: Types.ObjectId;
  /** The process that made the change (it applied it to its own caches already). */
  origin: string;
  kind: 'keypair' | 'owner' | 'revocation' | 'signing-key';
  /** The keypair id, the account / environment id, a revoked token's jti, or a signing key's kid. */
  key: string;
  at: Date;
}

export const changeSchema = new Schema<ChangeDoc>({
  origin: { type: String, required: true },
  kind: { type: String, enum: ['keypair', 'owner', 'revocation', 'signing-key'], required: true },
  key: { type: String, required: true },
  at: { type: Date, required: true },
}, { versionKey: false, strict: 'throw' });
changeSchema.index({ at: 1 });
