// What the surfaces see of a keypair (the admin API's Keypair schema, the CLI,
// the web UI), and the shapes of authentication's answer: plain types and the
// pure functions that build them from a stored record at a given time. Kept
// apart from the service (keypairs.ts), which orchestrates the store.
import type { KeypairRecord, StoredSecret } from '../db/contract.ts';
import { isExpired, isExpiringSoon } from './expiry.ts';
import { publicKeyViews, type PublicKeyView } from './keypair-keys.ts';
import { trustRuleViews, type TrustRuleView } from './trust-rules.ts';
import { MAX_GRACE_AFTER_ROTATION_MS, RETIRE_WHEN_IDLE, type RetireWhenIdle } from './limits.ts';
import { isLocked } from './lockout.ts';
import { failureSourceViews, type FailureSourceView } from './failure-sources.ts';
import { endedSecrets, liveSecrets, previousSecret, RECENT_USE_MS, rotatedAt, secretEnd, shownHint } from './secrets.ts';

/** The stored keypair; the name the OAuth layer knows it by. */
export type KeypairDoc = KeypairRecord;


export type KeypairStatus = 'enabled' | 'disabled' | 'locked';
/** What a listing may filter on: a status, or `expiring` (within 14 days, not yet expired) / `expired`. */
export type KeypairListFilter = KeypairStatus | 'expiring' | 'expired';

export interface KeypairView {
  keyId: string;
  name: string;
  comment: string;
  scopes: string[];
  ownerType: 'account' | 'environment';
  accountId: string;
  environmentId: string | null;
  status: KeypairStatus;
  enabled: boolean;
  locked: boolean;
  lockedUntil: string | null;
  lockedPermanently: boolean;
  failedAttempts: number;
  secrets: SecretView[];
  /** During a grace period: whether the previous secret is still used, and what may be done about it (null: no grace period). */
  previousSecret: PreviousSecretView | null;
  /** Secrets that ended within the retention (secrets.endedRetentionDays), newest first; `stillInUse` when presented after they ended. */
  endedSecrets: EndedSecretView[];
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  lastRotatedAt: string | null;
  /** When the tokens issued so far were last revoked (a regeneration, a disable); null: never. */
  tokensRevokedAt: string | null;
  /** When the keypair stops authenticating; null: never. */
  expiresAt: string | null;
  /** expiresAt has passed: the keypair gets invalid_client and its tokens introspect inactive. */
  expired: boolean;
  /** It expires within 14 days (and has not yet). */
  expiringSoon: boolean;
  /** Token requests must carry a DPoP proof (RFC 9449): the keypair only gets sender-constrained tokens. */
  dpopRequired: boolean;
  /** Public keys for private_key_jwt (current and retiring); [] for a secret-only keypair. */
  publicKeys: PublicKeyView[];
  /** Source addresses of counted failures within the last 24 hours, newest first, at most 10 (failure-sources.ts). */
  recentFailures: FailureSourceView[];
  /** Trust rules for federated workload identity; [] when it trusts no external issuer. */
  trustRules: TrustRuleView[];
}

export interface SecretView {
  state: 'current' | 'previous';
  /** `kps_…AbC9`: the secret's last 4 characters; null for secrets issued before hints existed. */
  hint: string | null;
  createdAt: string;
  /** The end of the grace period (previous secret); null for the current one. */
  expiresAt: string | null;
  /** When it stops working: expiresAt, or earlier with retireWhenIdle; null for the current one. */
  endsAt: string | null;
  lastUsedAt: string | null;
  useCount: number;
  retireWhenIdle: RetireWhenIdle | null;
}

export interface PreviousSecretView {
  hint: string | null;
  lastUsedAt: string | null;
  /** Used since the rotation: some client has not switched yet. */
  usedSinceRotation: boolean;
  /** Used within the last hour: ending it now needs force. */
  usedInLastHour: boolean;
  expiresAt: string;
  endsAt: string;
  retireWhenIdle: RetireWhenIdle | null;
  /** The latest end an extension may set (72 hours after the rotation). */
  extendableUntil: string;
}

export interface EndedSecretView {
  hint: string | null;
  createdAt: string;
  endedAt: string;
  lastUsedAt: string | null;
  useCount: number;
  /** Presented after it ended ("ended secret still in use"): how often, when last, from which address; null: never. */
  stillInUse: { count: number; lastSeenAt: string | null; lastAddress: string | null } | null;
}

/** A keypair with the one secret that was just issued: the only time a secret leaves Keyport. */
export interface IssuedKeypair {
  keypair: KeypairView;
  secret: string;
}

/** A new keypair: with its secret, or (a key-only keypair, created with `secret: false`) with none. */
export interface CreatedKeypair {
  keypair: KeypairView;
  secret: string | null;
}

export type AuthenticationFailure = 'unknown_key' | 'malformed_secret' | 'wrong_secret' | 'locked' | 'disabled' | 'owner_inactive'
  /** The keypair's expiresAt has passed; a secret that ended (regenerated, grace over) within the retention, never counted toward lockout. */
  | 'expired' | 'ended_secret'
  /** private_key_jwt: an assertion that failed its checks (signature, claims, replay), or signed by a key no longer live. */
  | 'bad_assertion' | 'retired_key'
  /**
   * Federated workload identity: a token of an issuer not on federation.issuers;
   * a verified token that no trust rule matches; the issuer's keys could not be fetched (not counted).
   */
  | 'untrusted_issuer' | 'federation_mismatch' | 'issuer_unavailable';
export type AuthenticationResult =
  | { ok: true; keypair: KeypairDoc }
  | { ok: false; reason: AuthenticationFailure };

/** A keypair as the target of an audit event (and of its webhook). */
export function keypairTarget(doc: Pick<KeypairDoc, '_id' | 'accountId' | 'environmentId'>): { accountId: string; environmentId: string | null; keypairId: string } {
  return { accountId: doc.accountId, environmentId: doc.environmentId, keypairId: doc._id };
}

/** The generation new tokens of this keypair carry (records written before generations existed have none: 0). */
export function currentTokenGeneration(doc: Pick<KeypairDoc, 'tokenGeneration'>): number {
  return doc.tokenGeneration ?? 0;
}

/** The keypair as the surfaces show it at `now` (never a secret nor a hash). */
export function keypairView(doc: KeypairDoc, now: Date, endedRetentionMs: number): KeypairView {
  const locked = isLocked(doc, now);
  return {
    keyId: doc._id,
    name: doc.name,
    comment: doc.comment,
    scopes: doc.scopes,
    ownerType: doc.ownerType,
    accountId: doc.accountId,
    environmentId: doc.environmentId,
    status: locked ? 'locked' : doc.enabled ? 'enabled' : 'disabled',
    enabled: doc.enabled,
    locked,
    lockedUntil: locked && !doc.lockedPermanently && doc.lockedUntil ? doc.lockedUntil.toISOString() : null,
    lockedPermanently: doc.lockedPermanently,
    failedAttempts: doc.failedAttempts,
    secrets: liveSecrets(doc, now).map((s) => secretView(s)),
    previousSecret: previousSecretView(doc, now),
    endedSecrets: endedSecrets(doc, now, endedRetentionMs).map((e) => ({
      hint: shownHint(e.hint),
      createdAt: e.createdAt.toISOString(),
      endedAt: e.endedAt.toISOString(),
      lastUsedAt: e.lastUsedAt?.toISOString() ?? null,
      useCount: e.useCount,
      stillInUse: e.endedUseCount > 0 ? { count: e.endedUseCount, lastSeenAt: e.endedLastSeenAt?.toISOString() ?? null, lastAddress: e.endedLastAddress } : null,
    })),
    createdAt: doc.createdAt.toISOString(),
    createdBy: doc.createdBy,
    lastUsedAt: doc.lastUsedAt?.toISOString() ?? null,
    lastRotatedAt: doc.lastRotatedAt?.toISOString() ?? null,
    tokensRevokedAt: doc.tokensRevokedAt?.toISOString() ?? null,
    expiresAt: doc.expiresAt?.toISOString() ?? null,
    expired: isExpired(doc, now),
    expiringSoon: isExpiringSoon(doc, now),
    dpopRequired: doc.dpopRequired === true,
    publicKeys: publicKeyViews(doc, now),
    recentFailures: failureSourceViews(doc.failureSources, now),
    trustRules: trustRuleViews(doc),
  };
}

function retireWhenIdleName(ms: number | null | undefined): RetireWhenIdle | null {
  if (!ms) return null;
  return (Object.keys(RETIRE_WHEN_IDLE) as RetireWhenIdle[]).find((name) => RETIRE_WHEN_IDLE[name] === ms) ?? null;
}

function secretView(s: StoredSecret): SecretView {
  return {
    state: s.expiresAt === null ? 'current' : 'previous',
    hint: shownHint(s.hint),
    createdAt: s.createdAt.toISOString(),
    expiresAt: s.expiresAt?.toISOString() ?? null,
    endsAt: secretEnd(s)?.toISOString() ?? null,
    lastUsedAt: s.lastUsedAt?.toISOString() ?? null,
    useCount: s.useCount ?? 0,
    retireWhenIdle: retireWhenIdleName(s.retireWhenIdleMs),
  };
}

function previousSecretView(doc: KeypairDoc, now: Date): PreviousSecretView | null {
  const previous = previousSecret(doc, now);
  const rotation = rotatedAt(doc);
  if (!previous || !rotation) return null;
  const lastUsed = previous.lastUsedAt ?? null;
  return {
    hint: shownHint(previous.hint),
    lastUsedAt: lastUsed?.toISOString() ?? null,
    usedSinceRotation: !!lastUsed && lastUsed > rotation,
    usedInLastHour: !!lastUsed && now.getTime() - lastUsed.getTime() < RECENT_USE_MS,
    expiresAt: previous.expiresAt!.toISOString(),
    endsAt: secretEnd(previous)!.toISOString(),
    retireWhenIdle: retireWhenIdleName(previous.retireWhenIdleMs),
    extendableUntil: new Date(rotation.getTime() + MAX_GRACE_AFTER_ROTATION_MS).toISOString(),
  };
}
