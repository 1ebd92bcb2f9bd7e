// API keypairs: the OAuth clients of Keyport. The document's _id is the key id.
import { Schema } from 'mongoose';

export interface StoredSecret {
  /** HMAC-SHA-256(pepper, secret), base64url. The secret itself is never stored. */
  hash: string;
  createdAt: Date;
  /** Set on the previous secret during a rotation's grace period; null for the current one. */
  expiresAt: Date | null;
}

export interface KeypairDoc {
  _id: string;
  ownerType: 'account' | 'environment';
  accountId: string;
  environmentId: string | null;
  name: string;
  comment: string;
  scopes: string[];
  enabled: boolean;
  /** Current secret first; at most one previous secret (with expiresAt) after it. */
  secrets: StoredSecret[];
  /** Consecutive wrong secrets since the last success (not counted while locked). */
  failedAttempts: number;
  /** failedAttempts when the last lock was set: the next lock comes maxFailures later. */
  failuresAtLastLock: number;
  /** Temporary locks since the last success; each lasts twice as long as the one before. */
  temporaryLocks: number;
  lockedUntil: Date | null;
  lockedPermanently: boolean;
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
  lastUsedAt: Date | null;
  lastRotatedAt: Date | null;
  /** Incremented by every administrative change: the optimistic-concurrency guard of rotations. */
  revision: number;
  /**
   * The keypair's token generation, carried by every token issued to it (claim
   * `gen`). Regenerating (by default) and disabling advance it, and tokens of an
   * earlier generation are no longer honoured: exact, where a cut-off by `iat`
   * (whole seconds) could neither keep a token issued just after the change nor
   * refuse one issued just before it in the same second.
   */
  tokenGeneration: number;
  /** When tokens were last revoked this way (null: never). */
  tokensRevokedAt: Date | null;
}

const storedSecretSchema = new Schema<StoredSecret>({
  hash: { type: String, required: true },
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
}, { versionKey: false, strict: 'throw' });
// Lists: an owner's keypairs, newest first.
keypairSchema.index({ accountId: 1, environmentId: 1, createdAt: -1 });
