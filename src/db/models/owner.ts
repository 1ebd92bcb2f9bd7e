// Accounts and environments: the two kinds of owner of keypairs and memberships.
import { Schema } from 'mongoose';

import type { AccountRecord, EnvironmentRecord, OwnerStatus } from '../contract.ts';

export type { OwnerStatus } from '../contract.ts';
export const OWNER_STATUSES: OwnerStatus[] = ['active', 'closing', 'closed'];

// The stored shapes are the contract's records (src/db/contract.ts).
export type AccountDoc = AccountRecord;
export type EnvironmentDoc = EnvironmentRecord;

const ownerFields = {
  _id: { type: String, required: true },
  name: { type: String, required: true },
  status: { type: String, enum: OWNER_STATUSES, required: true, default: 'active' },
  createdAt: { type: Date, required: true },
  closingAt: { type: Date, default: null },
  closedAt: { type: Date, default: null },
} as const;

export const accountSchema = new Schema<AccountDoc>({
  ...ownerFields,
  maxKeypairLifetimeDays: { type: Number, default: null },
}, { versionKey: false, strict: 'throw' });
accountSchema.index({ status: 1 });

export const environmentSchema = new Schema<EnvironmentDoc>({
  ...ownerFields,
  accountId: { type: String, required: true },
}, { versionKey: false, strict: 'throw' });
environmentSchema.index({ accountId: 1, createdAt: 1 });
environmentSchema.index({ status: 1 });
