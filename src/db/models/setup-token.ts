// The one-time setup link of a fresh installation (docs/architecture.md, First start): printed to the
// console at start when no user exists, it lets the first administrator choose
// an email and a password. Only the SHA-256 of the link's token is stored.
import { Schema } from 'mongoose';

export interface SetupTokenDoc {
  /** Always 'setup': there is at most one link, the newest one printed. */
  _id: string;
  hash: string;
  createdAt: Date;
  expiresAt: Date;
  /** Set while a setup is being completed with this token (claimed), so that it cannot be used twice. */
  claimedAt: Date | null;
}

export const setupTokenSchema = new Schema<SetupTokenDoc>({
  _id: { type: String, required: true },
  hash: { type: String, required: true },
  createdAt: { type: Date, required: true },
  expiresAt: { type: Date, required: true },
  claimedAt: { type: Date, default: null },
}, { versionKey: false, strict: 'throw' });
