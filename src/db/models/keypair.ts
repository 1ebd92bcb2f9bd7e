// API keypairs: the OAuth clients of Keyport. The document's _id is the key id.
import { Schema } from 'mongoose';
import type { KeypairRecord } from '../contract.ts';
import type { EndedSecret, FailureSource, StoredPublicKey, StoredSecret, StoredTrustRule } from '../contract.ts';

// The stored shape is the contract's record (src/db/contract.ts): the store hands
// documents to the domain as they are read, with no copy on the token endpoint's path.
export type { StoredSecret } from '../contract.ts';
export type KeypairDoc = KeypairRecord;

const storedSecretSchema = new Schema<StoredSecret>({
  hash: { type: String, required: true },
  createdAt: { type: Date, required: true },
  expiresAt: { type: Date, default: null },
  // Optional: records written before hints and per-secret usage existed lack them.
  hint: { type: String },
  lastUsedAt: { type: Date },
  useCount: { type: Number },
  retireWhenIdleMs: { type: Number },
  retireWhenIdleSince: { type: Date },
  stillUsedAuditedAt: { type: Date },
}, { _id: false, versionKey: false, strict: 'throw' });

const endedSecretSchema = new Schema<EndedSecret>({
  hash: { type: String, required: true },
  hint: { type: String, default: null },
  createdAt: { type: Date, required: true },
  endedAt: { type: Date, required: true },
  lastUsedAt: { type: Date, default: null },
  useCount: { type: Number, default: 0 },
  endedUseCount: { type: Number, default: 0 },
  endedLastSeenAt: { type: Date, default: null },
  endedLastAddress: { type: String, default: null },
  endedAuditedAt: { type: Date, default: null },
}, { _id: false, versionKey: false, strict: 'throw' });

const storedPublicKeySchema = new Schema<StoredPublicKey>({
  thumbprint: { type: String, required: true },
  kid: { type: String, required: true },
  jwk: { type: Schema.Types.Mixed, required: true },
  createdAt: { type: Date, required: true },
  expiresAt: { type: Date, default: null },
}, { _id: false, versionKey: false, strict: 'throw' });

const failureSourceSchema = new Schema<FailureSource>({
  address: { type: String, required: true },
  count: { type: Number, required: true },
  lastSeenAt: { type: Date, required: true },
}, { _id: false, versionKey: false, strict: 'throw' });

const storedTrustRuleSchema = new Schema<StoredTrustRule>({
  id: { type: String, required: true },
  issuer: { type: String, required: true },
  subject: { type: String, required: true },
  audience: { type: String, required: true },
  claims: { type: [new Schema({ name: { type: String, required: true }, value: { type: String, required: true } }, { _id: false, versionKey: false, strict: 'throw' })], default: [] },
  createdAt: { type: Date, required: true },
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
  expiresAt: { type: Date, default: null },
  expiringNoticeAt: { type: Date, default: null },
  expiredNoticeAt: { type: Date, default: null },
  // No default: records written before the option have none, and read as false.
  dpopRequired: { type: Boolean },
  endedSecrets: { type: [endedSecretSchema], default: undefined },
  // No defaults: records written before keys existed lack both, and are read as "no keys".
  publicKeys: { type: [storedPublicKeySchema], default: undefined },
  keysLastUsedAt: { type: Schema.Types.Mixed, default: undefined },
  // No default: records from before failure sources existed have none.
  failureSources: { type: [failureSourceSchema], default: undefined },
  // No defaults: records written before trust rules existed lack both, and are read as "no rules".
  trustRules: { type: [storedTrustRuleSchema], default: undefined },
  trustRulesLastUsedAt: { type: Schema.Types.Mixed, default: undefined },
  // The lists' sort keys (src/db/keypair-list.ts). No default: older records get them at the next start.
  nameKey: { type: String },
  createdKey: { type: String },
}, { versionKey: false, strict: 'throw' });
// Lists (src/db/keypair-list.ts): an owner's keypairs in name or creation order, one
// index per order (read forwards or backwards), the owner's equalities first.
keypairSchema.index({ accountId: 1, environmentId: 1, nameKey: 1, _id: 1 });
keypairSchema.index({ accountId: 1, environmentId: 1, createdKey: 1, _id: 1 });
// The account-wide list (the account's keypairs and its environments' in one): the account alone, then the sort key.
keypairSchema.index({ accountId: 1, nameKey: 1, _id: 1 });
keypairSchema.index({ accountId: 1, createdKey: 1, _id: 1 });
// The expiry sweep: keypairs with an expiry date (most have none).
keypairSchema.index({ expiresAt: 1 });
