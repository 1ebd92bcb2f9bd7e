// Administrators and members, and their memberships of accounts and environments.
import { Schema } from 'mongoose';
import type { Role } from '../contract.ts';

export type { Role } from '../contract.ts';

export interface UserDoc {
  _id: string;
  email: string;
  passwordHash: string;
  /**
   * The instance-wide operator role: may create accounts (src/domain/access.ts).
   * Granted by the CLI and at bootstrap, never through the admin API or UI.
   * Users stored before the role existed have no field: read as false.
   */
  operator?: boolean;
  createdAt: Date;
}

export const userSchema = new Schema<UserDoc>({
  _id: { type: String, required: true },
  email: { type: String, required: true, lowercase: true, trim: true },
  passwordHash: { type: String, required: true },
  operator: { type: Boolean, default: false },
  createdAt: { type: Date, required: true },
}, { versionKey: false, strict: 'throw' });
userSchema.index({ email: 1 }, { unique: true });


export interface MembershipDoc {
  _id: string;
  userId: string;
  accountId: string;
  /** null for a membership of the whole account. */
  environmentId: string | null;
  /**
   * 'account:<id>' or 'environment:<id>'. Unique together with userId. A string,
   * not the nullable environmentId, because SQLite (under FerretDB) treats NULLs
   * in a unique index as distinct.
   */
  ownerKey: string;
  role: Role;
  createdAt: Date;
}

export const membershipSchema = new Schema<MembershipDoc>({
  _id: { type: String, required: true },
  userId: { type: String, required: true },
  accountId: { type: String, required: true },
  environmentId: { type: String, default: null },
  ownerKey: { type: String, required: true },
  role: { type: String, enum: ['admin', 'member'], required: true },
  createdAt: { type: Date, required: true },
}, { versionKey: false, strict: 'throw' });
membershipSchema.index({ userId: 1, ownerKey: 1 }, { unique: true });
membershipSchema.index({ accountId: 1 });
