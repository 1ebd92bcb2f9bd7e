// API keypairs: the OAuth clients of Keyport. The document's _id is the key id.
import { Schema } from 'mongoose';
import type { KeypairRecord } from '../contract.ts';
import type { StoredPublicKey, StoredSecret } from '../contract.ts';

// The stored shape is the contract's record (src/db/contract.ts): the store hands
// documents to the domain as they are read, with no copy on the token endpoint's path.
export type { StoredSecret } from '../contract.ts';
export type KeypairDoc = KeypairRecord;

const storedSecretSchema = new Schema<StoredSecret>({
  hash: { type: String, required: true },
  createdAt: { type: Date, required: true },
  expiresAt: { type: Date, default: null },
}, { _id: false, versionKey: false, strict: 'throw' });

const storedPublicKeySchema = new Schema<StoredPublicKey>({
  thumbprint: { type: String, required: true },
  kid: { type: String, required: true },
  jwk: { type: Schema.Types.Mixed, required: true },
  createdAt: { type: Date, required: true },
  expiresAt: { type: Date, default: null },
}, { _id: false, versionKey: false, strict: 'throw' });

export const keypairSchema = new Schema<KeypairDoc>({
  _id: { type: String, required: true },
  ownerType: { type: String, enum: ['account', 'environment'], required: true },
  accountId: { type: String, required: true },
  environmentId: { type: String, default: null },
  name: { type: String, required: true },
  comment: { type: String, default: '' },
  scopes: { type: [String], default: [] },
  enabled: { type: Boolean, required: true, default: true },
  secrets: { type: [storedSecretSchema], required: true },
  failedAttempts: { type: Number, required: true, default: 0 },
  failuresAtLastLock: { type: Number, required: true, default: 0 },
  temporaryLocks: { type: Number, required: true, default: 0 },
  lockedUntil: { type: Date, default: null },
  lockedPermanently: { type: Boolean, required: true, default: false },
  createdAt: { type: Date, required: true },
  createdBy: { type: String, required: true },
  updatedAt: { type: Date, required: true },
  lastUsedAt: { type: Date, default: null },
  lastRotatedAt: { type: Date, default: null },
  revision: { type: Number, required: true, default: 0 },
  tokenGeneration: { type: Number, required: true, default: 0 },
  tokensRevokedAt: { type: Date, default: null },
  // No defaults: records written before keys existed lack both, and are read as "no keys".
  publicKeys: { type: [storedPublicKeySchema], default: undefined },
  keysLastUsedAt: { type: Schema.Types.Mixed, default: undefined },
}, { versionKey: false, strict: 'throw' });
// Lists: an owner's keypairs, newest first.
keypairSchema.index({ accountId: 1, environmentId: 1, createdAt: -1 });
