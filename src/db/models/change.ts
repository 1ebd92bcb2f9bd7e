// A short-lived log of changes that matter to in-process caches (keypairs,
// owner statuses), so that every Keyport process sees another's changes: the
// server's workers, the CLI, other hosts. Entries older than a minute are trimmed.
import { Schema, Types } from 'mongoose';

export interface ChangeDoc {
  _id: Types.ObjectId;
  /** The process that made the change (it applied it to its own caches already). */
  origin: string;
  kind: 'keypair' | 'owner';
  /** The keypair id, or the account / environment id. */
  key: string;
  at: Date;
}

export const changeSchema = new Schema<ChangeDoc>({
  origin: { type: String, required: true },
  kind: { type: String, enum: ['keypair', 'owner'], required: true },
  key: { type: String, required: true },
  at: { type: Date, required: true },
}, { versionKey: false, strict: 'throw' });
changeSchema.index({ at: 1 });
