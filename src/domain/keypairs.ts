// API keypairs: creation, the keypair lifecycle, and the secret check with
// lockout that the token endpoint relies on (docs/architecture.md, Keypair lifecycle). No HTTP in here.
import type { KeyportConfig } from '../config.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { isWellFormedKeyId, isWellFormedSecret, newKeyId, newSecret, type SecretHasher } from './credentials.ts';
import { DomainError, invalidInput, notFound } from './errors.ts';
import { COMMENT_MAX, GRACE_PERIODS, type GracePeriod } from './limits.ts';
import { validName, type Owner, type OwnerService } from './owners.ts';
import { FailureCounts } from './failure-counts.ts';
import { failureWrite, hasFailuresToReset, isLocked, unlockedCounters } from './lockout.ts';
import type { RevocationFeed } from './revocation-feed.ts';
import type { ScopeCatalog } from './scope-catalog.ts';
import { liveSecrets, rotatedSecrets } from './secrets.ts';
import { EXPIRING_WINDOW_MS, isExpired, isExpiringSoon, resolveExpiry } from './expiry.ts';
import type { KeypairChanges, KeypairRecord, KeypairStore } from '../db/contract.ts';

export { liveSecrets } from './secrets.ts';
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
  secrets: { state: 'current' | 'previous'; createdAt: string; expiresAt: string | null }[];
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
}

/** A keypair with the one secret that was just issued: the only time a secret leaves Keyport. */
export interface IssuedKeypair {
  keypair: KeypairView;
  secret: string;
}

export type AuthenticationFailure = 'unknown_key' | 'malformed_secret' | 'wrong_secret' | 'locked' | 'disabled' | 'owner_inactive' | 'expired';
export type AuthenticationResult =
  | { ok: true; keypair: KeypairDoc }
  | { ok: false; reason: AuthenticationFailure };

const LAST_USED_INTERVAL_MS = 60_000;

/** The generation new tokens of this keypair carry (records written before generations existed have none: 0). */
export function currentTokenGeneration(doc: Pick<KeypairDoc, 'tokenGeneration'>): number {
  return doc.tokenGeneration ?? 0;
}

function validDpopRequired(value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidInput('dpopRequired must be true or false');
  return value;
}

export class KeypairService {
  readonly #store: KeypairStore;
  readonly #owners: OwnerService;
  readonly #scopes: ScopeCatalog;
  readonly #hasher: SecretHasher;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #lockout: KeyportConfig['lockout'];
  /** Told of every revocation of a keypair's tokens, for resource servers that validate offline. */
  readonly #revocationFeed: RevocationFeed | undefined;
  /** Per key: when lastUsedAt was last written by this process (at most once a minute). */
  readonly #lastUsedWrites = new Map<string, number>();
  /** Wrong secrets answered and not yet counted (#recordFailure). */
  readonly #failures: FailureCounts<KeypairDoc>;
  #reportError: (err: unknown, what: string) => void = () => {};

  constructor(deps: { store: KeypairStore; owners: OwnerService; scopes: ScopeCatalog; hasher: SecretHasher; audit: AuditLog; clock: Clock; lockout: KeyportConfig['lockout']; revocationFeed?: RevocationFeed }) {
    this.#store = deps.store;
    this.#owners = deps.owners;
    this.#scopes = deps.scopes;
    this.#hasher = deps.hasher;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#lockout = deps.lockout;
    this.#revocationFeed = deps.revocationFeed;
    this.#failures = new FailureCounts<KeypairDoc>({
      maxInFlight: deps.store.failureWritesInFlight,
      write: (keyId, doc, count) => this.#countFailures(doc, count),
      onError: (err, what) => this.#reportError(err, what),
    });
  }

  /**
   * Fills the authentication cache with the most recently used keypairs, so that
   * the first request of each client after a start does not wait for a database
   * read. Runs in the background at server start.
   */
  warmUp(limit = 100_000): Promise<number> {
    return this.#store.warmUp(limit);
  }

  view(doc: KeypairDoc): KeypairView {
    const now = this.#clock.now();
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
      secrets: liveSecrets(doc, now).map((s) => ({
        state: s.expiresAt === null ? 'current' : 'previous',
        createdAt: s.createdAt.toISOString(),
        expiresAt: s.expiresAt?.toISOString() ?? null,
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
    };
  }

  /**
   * `expiresAt`: when the keypair stops working (null: never; left out: the
   * account's maximum lifetime from now, or never). Must be in the future and
   * within the account's maximum lifetime (expiry.ts, resolveExpiry).
   */
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[]; expiresAt?: Date | null; dpopRequired?: boolean }, actor: Actor): Promise<IssuedKeypair> {
    const owner = await this.#owners.resolveActiveOwner(ownerRef);
    const name = validName(input.name);
    const comment = this.#validComment(input.comment ?? '');
    const scopes = this.#scopes.assertGrantable(input.scopes ?? [], owner.type);
    const dpopRequired = validDpopRequired(input.dpopRequired ?? false);
    const now = this.#clock.now();
    const expiresAt = resolveExpiry(input.expiresAt, await this.#owners.maxKeypairLifetimeDays(owner.accountId), now);
    const secret = newSecret();
    const doc = await this.#store.insert({
      _id: newKeyId(),
      ownerType: owner.type,
      accountId: owner.accountId,
      environmentId: owner.environmentId,
      name,
      comment,
      scopes,
      enabled: true,
      secrets: [{ hash: this.#hasher.hash(secret), createdAt: now, expiresAt: null }],
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
      expiresAt,
      ...(dpopRequired ? { dpopRequired } : {}),
    });
    // Written first, checked after (OwnerService.afterCreating): never a keypair left in a closed owner.
    await this.#owners.afterCreating(() => this.#owners.resolveActiveOwner(ownerRef), () => this.#store.delete(doc._id));
    await this.#audit.record({ actor, action: 'keypair.created', ...this.#target(doc), details: { name, scopes, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}), ...(dpopRequired ? { dpopRequired } : {}) } });
    return { keypair: this.view(doc), secret };
  }

  /**
   * Replaces the whole keypair: a new key id and a new secret, with the old
   * one's name, comment, scopes, owner and enabled state; the old keypair is
   * deleted (its tokens stop as after a removal). Its expiry date carries over
   * while it is in the future and within the account's maximum lifetime;
   * otherwise the new keypair gets the expiry a new one gets.
   *
   * Without a transaction: the new keypair is written first, then the old one is
   * deleted on condition that it is still the revision read. Of two replacements
   * (or a replacement and a rotation, an edit, a removal) only one deletes it;
   * the other withdraws its new keypair (404 when the old one is gone, 409 when
   * it changed), so there is never more than one successor.
   */
  async replace(keyId: string, actor: Actor): Promise<IssuedKeypair & { replaces: string }> {
    const old = await this.#load(keyId);
    const ownerRef = old.environmentId ? { environmentId: old.environmentId } : { accountId: old.accountId };
    // The keypair exists, so an owner that is not active is closing: a conflict, not bad input.
    const ownerActive = () => this.#owners.resolveActiveOwner(ownerRef).catch((err: unknown) => {
      throw err instanceof DomainError && err.code === 'invalid_input' ? new DomainError('conflict', err.message) : err;
    });
    await ownerActive();
    const now = this.#clock.now();
    const maxDays = await this.#owners.maxKeypairLifetimeDays(old.accountId);
    const keep = old.expiresAt && !isExpired(old, now) && (maxDays === null || old.expiresAt.getTime() <= now.getTime() + maxDays * 86_400_000);
    const expiresAt = keep ? old.expiresAt! : resolveExpiry(undefined, maxDays, now);
    const secret = newSecret();
    const doc = await this.#store.insert({
      _id: newKeyId(),
      ownerType: old.ownerType,
      accountId: old.accountId,
      environmentId: old.environmentId,
      name: old.name,
      comment: old.comment,
      scopes: old.scopes,
      enabled: old.enabled,
      secrets: [{ hash: this.#hasher.hash(secret), createdAt: now, expiresAt: null }],
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
      expiresAt,
      // A sender-constrained keypair stays one: the requirement is the owner's policy, not the credential's.
      ...(old.dpopRequired ? { dpopRequired: true } : {}),
    });
    await this.#owners.afterCreating(ownerActive, () => this.#store.delete(doc._id));
    const gone = await this.#store.deleteIfRevision(old._id, old.revision);
    if (!gone) {
      await this.#store.delete(doc._id);
      if (await this.#store.findById(old._id)) throw new DomainError('conflict', 'the keypair changed during the replacement; nothing was replaced, try again');
      throw notFound('keypair');
    }
    // The old key id is dead at once: offline validators hear of it like a removal.
    await this.#revocationFeed?.keypairRemoved(gone._id);
    await this.#audit.record({ actor, action: 'keypair.replaced', ...this.#target(gone), details: { name: gone.name, replacedBy: doc._id } });
    await this.#audit.record({ actor, action: 'keypair.created', ...this.#target(doc), details: { name: doc.name, scopes: doc.scopes, replaces: old._id, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) } });
    return { keypair: this.view(doc), secret, replaces: old._id };
  }

  async get(keyId: string): Promise<KeypairView> {
    await this.failuresCounted(keyId);
    return this.view(await this.#load(keyId));
  }

  /** The raw record, for the OAuth layer (it never leaves the process); served from the in-process cache. */
  async findForAuthentication(keyId: string): Promise<KeypairDoc | null> {
    if (!isWellFormedKeyId(keyId)) return null;
    return this.#store.findCached(keyId);
  }

  /** A page of the owner's keypairs; `search` keeps those whose name starts with it (any case) or whose key id it is. */
  async list(owner: Owner, page: { limit: number; offset: number; status?: KeypairListFilter; search?: string }): Promise<{ items: KeypairView[]; total: number }> {
    await this.failuresCounted();
    const search = page.search?.trim() || undefined;
    const now = this.#clock.now();
    const { records, total } = await this.#store.list(owner, { status: page.status, search, now, expiringBefore: new Date(now.getTime() + EXPIRING_WINDOW_MS), limit: page.limit, offset: page.offset });
    return { items: records.map((doc) => this.view(doc)), total };
  }

  /** Whether the owner has a keypair of this name already, ignoring case and the spaces around it (the web UI asks before a second one). */
  async nameInUse(owner: Owner, name: string): Promise<boolean> {
    const trimmed = name.trim();
    return trimmed !== '' && this.#store.existsWithName(owner, trimmed);
  }

  /** `expiresAt`: a new expiry date (in the future, within the account's maximum lifetime from now), or null for none. */
  async update(keyId: string, input: { name?: string; comment?: string; scopes?: string[]; expiresAt?: Date | null; dpopRequired?: boolean }, actor: Actor): Promise<KeypairView> {
    const current = await this.#load(keyId);
    const now = this.#clock.now();
    const set: KeypairChanges = { updatedAt: now };
    if (input.name !== undefined) set.name = validName(input.name);
    if (input.comment !== undefined) set.comment = this.#validComment(input.comment);
    if (input.scopes !== undefined) set.scopes = this.#scopes.assertGrantable(input.scopes, current.ownerType);
    if (input.expiresAt !== undefined) {
      set.expiresAt = resolveExpiry(input.expiresAt, await this.#owners.maxKeypairLifetimeDays(current.accountId), now);
      // A new expiry date gets its own warning and expiry notices (expiry.ts, ExpirySweep).
      set.expiringNoticeAt = null;
      set.expiredNoticeAt = null;
    }
    if (input.dpopRequired !== undefined) set.dpopRequired = validDpopRequired(input.dpopRequired);
    const doc = await this.#store.change(keyId, set);
    if (!doc) throw notFound('keypair');
    const changed = Object.fromEntries(Object.entries(set)
      .filter(([k]) => k !== 'updatedAt' && k !== 'expiringNoticeAt' && k !== 'expiredNoticeAt')
      .map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
    await this.#audit.record({ actor, action: 'keypair.updated', ...this.#target(doc), details: changed });
    return this.view(doc);
  }

  /**
   * Disabling also revokes every token issued so far, for good: enabling again
   * gives the keypair new tokens, never its earlier ones back.
   */
  async setEnabled(keyId: string, enabled: boolean, actor: Actor): Promise<KeypairView> {
    const now = this.#clock.now();
    const doc = enabled
      ? await this.#store.change(keyId, { enabled, updatedAt: now })
      : await this.#store.change(keyId, { enabled, updatedAt: now, tokensRevokedAt: now }, { advanceTokenGeneration: true });
    if (!doc) throw notFound('keypair');
    if (!enabled) await this.#revocationFeed?.keypairTokensBelow(doc._id, currentTokenGeneration(doc));
    await this.#audit.record({ actor, action: enabled ? 'keypair.enabled' : 'keypair.disabled', ...this.#target(doc), ...(enabled ? {} : { details: { revokedTokens: true } }) });
    return this.view(doc);
  }

  /**
   * Issues a new secret. With a grace period the current secret stays valid
   * until now + grace; a previous secret still in its grace period ends at once
   * (at most two secrets). Grace '0' (regenerate) also clears a lock.
   * `revokeTokens` also ends every token issued so far (the answer to a leaked
   * secret: the leaker's tokens die with it); a planned rotation keeps them.
   */
  async rotate(keyId: string, grace: GracePeriod, actor: Actor, options: { revokeTokens?: boolean } = {}): Promise<IssuedKeypair> {
    const revokeTokens = options.revokeTokens ?? false;
    if (!Object.hasOwn(GRACE_PERIODS, grace)) throw invalidInput(`grace must be one of ${Object.keys(GRACE_PERIODS).join(', ')}`);
    const secret = newSecret();
    const hash = this.#hasher.hash(secret);
    if (!isWellFormedKeyId(keyId)) throw notFound('keypair');
    let now = this.#clock.now();
    let rotation = rotatedSecrets([], hash, now, GRACE_PERIODS[grace]);
    // Another process may rotate at the same time: the store conditions the write on the
    // revision it read, so two rotations never both keep "their" previous secret.
    const result = await this.#store.rewrite(keyId, (current) => {
      now = this.#clock.now();
      rotation = rotatedSecrets(current.secrets, hash, now, GRACE_PERIODS[grace]);
      const set: KeypairChanges = { secrets: rotation.secrets, lastRotatedAt: now, updatedAt: now };
      if (grace === '0') Object.assign(set, unlockedCounters());
      if (revokeTokens) set.tokensRevokedAt = now;
      return { set, advanceTokenGeneration: revokeTokens };
    }, 5);
    if (result.outcome === 'not_found') throw notFound('keypair');
    if (result.outcome === 'conflict') throw new DomainError('conflict', 'the keypair changed during the rotation; try again');
    const { before: current, after: doc } = result;
    const { secrets, endedEarlierPrevious: endedPrevious } = rotation;
    if (revokeTokens) await this.#revocationFeed?.keypairTokensBelow(doc._id, currentTokenGeneration(doc));
    await this.#audit.record({
      actor,
      action: grace === '0' ? 'keypair.regenerated' : 'keypair.rotated',
      ...this.#target(doc),
      details: { grace, previousSecretExpiresAt: secrets[1]?.expiresAt?.toISOString() ?? null, endedEarlierPreviousSecret: endedPrevious, unlocked: grace === '0' && isLocked(current, now), revokedTokens: revokeTokens },
    });
    return { keypair: this.view(doc), secret };
  }

  async unlock(keyId: string, actor: Actor): Promise<KeypairView> {
    const doc = await this.#store.change(keyId, { ...unlockedCounters(), updatedAt: this.#clock.now() });
    if (!doc) throw notFound('keypair');
    await this.#audit.record({ actor, action: 'keypair.unlocked', ...this.#target(doc) });
    return this.view(doc);
  }

  async remove(keyId: string, actor: Actor): Promise<void> {
    const doc = await this.#store.delete(keyId);
    if (!doc) throw notFound('keypair');
    await this.#revocationFeed?.keypairRemoved(doc._id);
    await this.#audit.record({ actor, action: 'keypair.removed', ...this.#target(doc), details: { name: doc.name } });
  }

  /**
   * Checks a presented secret. Every failure looks the same to the caller (the
   * OAuth layer answers invalid_client); the reason is for logs and metrics.
   * `preloaded` is the record the OAuth layer read a moment ago for the same
   * request (null: it found none), so that a token request costs one database read.
   */
  async authenticate(keyId: string, secret: string, preloaded?: KeypairDoc | null): Promise<AuthenticationResult> {
    const doc = preloaded === null || preloaded?._id === keyId ? preloaded : await this.findForAuthentication(keyId);
    return this.#check(doc, secret, { afterCounting: false });
  }

  async #check(doc: KeypairDoc | null, secret: string, { afterCounting }: { afterCounting: boolean }): Promise<AuthenticationResult> {
    // A mistyped secret fails its checksum: no hash, no database work, no lockout
    // count; checked first, so that it costs the same for known and unknown key ids.
    if (!isWellFormedSecret(secret)) return { ok: false, reason: doc ? 'malformed_secret' : 'unknown_key' };
    if (!doc) {
      this.#hasher.burn(secret);
      return { ok: false, reason: 'unknown_key' };
    }
    const now = this.#clock.now();
    const matches = this.#hasher.matchesAny(secret, liveSecrets(doc, now).map((s) => s.hash));
    // Expired: refused like a wrong secret (after the same hashing), and not counted: no guess can succeed.
    if (isExpired(doc, now)) return { ok: false, reason: 'expired' };
    // Locked: refused like a wrong secret, and not counted (a failure never extends a lock).
    if (isLocked(doc, now)) return { ok: false, reason: 'locked' };
    if (!matches) {
      // Counted after the answer, not before it (#recordFailure).
      this.#recordFailure(doc);
      return { ok: false, reason: 'wrong_secret' };
    }
    // The right secret while wrong ones are still being counted here: they come
    // first (they may lock the key, and a success resets the count), then the
    // record as it stands after them decides.
    if (!afterCounting && this.#failures.pending(doc._id)) {
      await this.#failures.counted(doc._id);
      return this.#check(await this.findForAuthentication(doc._id), secret, { afterCounting: true });
    }
    if (!doc.enabled) return { ok: false, reason: 'disabled' };
    if (!(await this.#owners.isActive(doc))) return { ok: false, reason: 'owner_inactive' };
    if (hasFailuresToReset(doc)) await this.#recordSuccess(doc._id, now);
    this.#noteUse(doc._id, now);
    return { ok: true, keypair: doc };
  }

  /**
   * True when a token of this keypair, of the given token generation (its `gen`
   * claim; tokens from before generations existed count as 0), may still be
   * honoured (introspection, admin API bearer tokens).
   */
  async isUsable(keyId: string, tokenGeneration: number): Promise<boolean> {
    const doc = await this.findForAuthentication(keyId);
    return !!doc && doc.enabled && tokenGeneration >= currentTokenGeneration(doc) && !isExpired(doc, this.#clock.now()) && (await this.#owners.isActive(doc));
  }

  /**
   * Counts a wrong secret, after the answer rather than before it: the 401 of
   * an existing key must not wait for a database write that an unknown key id
   * does not make (that wait told which key ids exist: 1.9 ms against 0.27 ms
   * at p50), nor hold the connection meanwhile. What must follow the count
   * still does: the same key's right secret in this process (#check), the
   * admin reads (failuresCounted) and shutdown. Batching and the writer:
   * failure-counts.ts.
   */
  #recordFailure(doc: KeypairDoc): void {
    this.#failures.add(doc._id, doc);
  }

  /**
   * Settles once every wrong secret recorded so far (of `keyId`, or of any key)
   * is counted: admin reads show the count and lock that those answers imply,
   * and close() loses none of them.
   */
  failuresCounted(keyId?: string): Promise<void> {
    return this.#failures.counted(keyId);
  }

  /** Where errors of work done after the answer go (a failure count the database refused): the server's log. */
  onBackgroundError(report: (err: unknown, what: string) => void): void {
    this.#reportError = report;
  }

  /**
   * Counts `count` wrong secrets exactly as if they had come one after another,
   * and locks the key at the threshold (docs/architecture.md, Lockout). What to
   * write is the rule (lockout.ts, failureWrite); the store applies it as one
   * conditional update and asks again when another process changed the counters
   * meanwhile. A lock is audited, by `system`.
   */
  async #countFailures(doc: KeypairDoc, count: number): Promise<void> {
    const now = this.#clock.now();
    const counted = await this.#store.countFailures(doc._id, doc, (seen) => failureWrite(seen, this.#lockout, now, count));
    if (counted.outcome !== 'locked') return;
    const { write, record } = counted;
    await this.#audit.record({
      actor: 'system',
      action: 'keypair.locked',
      ...this.#target(record),
      details: { failedAttempts: write.failedAttempts, permanent: write.permanent, lockedUntil: write.lockedUntil?.toISOString() ?? null, lockNumber: write.permanent ? null : record.temporaryLocks },
    });
  }

  /** A success ends a run of failures: the counters start over (a lock in force stays). */
  async #recordSuccess(keyId: string, now: Date): Promise<void> {
    await this.#store.resetFailures(keyId, now);
  }

  /** Writes lastUsedAt at most once a minute per key, after the response (never on the hot path). */
  #noteUse(keyId: string, now: Date): void {
    const last = this.#lastUsedWrites.get(keyId) ?? 0;
    if (now.getTime() - last < LAST_USED_INTERVAL_MS) return;
    this.#lastUsedWrites.set(keyId, now.getTime());
    if (this.#lastUsedWrites.size > 100_000) this.#lastUsedWrites.clear();
    setImmediate(() => {
      this.#store.noteUsed(keyId, now, new Date(now.getTime() - LAST_USED_INTERVAL_MS))
        .catch(() => { /* best effort: a lost write only makes "last used" a minute older */ });
    });
  }

  #validComment(comment: unknown): string {
    if (typeof comment !== 'string' || comment.length > COMMENT_MAX) throw invalidInput(`comment must be a string of at most ${COMMENT_MAX} characters`);
    return comment;
  }

  #target(doc: Pick<KeypairDoc, '_id' | 'accountId' | 'environmentId'>) {
    return { accountId: doc.accountId, environmentId: doc.environmentId, keypairId: doc._id };
  }

  /** Reads the database itself (not the cache): admin views and rotations need the latest state. */
  async #load(keyId: string): Promise<KeypairDoc> {
    const doc = isWellFormedKeyId(keyId) ? await this.#store.findById(keyId) : null;
    if (!doc) throw notFound('keypair');
    return doc;
  }
}
