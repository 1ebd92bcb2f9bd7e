// API keypairs: creation, the keypair lifecycle, and the secret check with
// lockout that the token endpoint relies on (docs/architecture.md, Keypair lifecycle). No HTTP in here.
// What the surfaces see of a keypair is built in keypair-views.ts; the rules
// are plain functions in secrets.ts, lockout.ts, expiry.ts and public-keys.ts.
//
// Over 400 lines, for now: the admin lifecycle and the authentication check
// share two per-key queues (the failure counts and the usage batches: a right
// secret waits for its key's pending counts, admin reads and rotations wait for
// both), so they live in one service. The next step splits authentication into
// its own class over those two queues.
import type { KeyportConfig } from '../config.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { isWellFormedKeyId, isWellFormedSecret, newKeyId, newSecret, type SecretHasher } from './credentials.ts';
import { DomainError, invalidInput, notFound } from './errors.ts';
import { COMMENT_MAX, GRACE_PERIODS, RETIRE_WHEN_IDLE, type GracePeriod, type RetireWhenIdle } from './limits.ts';
import { validName, type Owner, type OwnerService } from './owners.ts';
import { FailureCounts } from './failure-counts.ts';
import { failureWrite, hasFailuresToReset, isLocked, unlockedCounters } from './lockout.ts';
import type { RevocationFeed } from './revocation-feed.ts';
import type { ScopeCatalog } from './scope-catalog.ts';
import { endedSecretHashes, liveSecrets, previousSecret, rotatedAt, rotatedSecrets, secretHint, shownHint, withGraceExtended, withPreviousEnded, withRetireWhenIdle, withUsage, type UsageEvent } from './secrets.ts';
import { SecretUsageCounter } from './secret-usage.ts';
import { EXPIRING_WINDOW_MS, isExpired, resolveExpiry } from './expiry.ts';
import type { KeypairChanges, KeypairStore, SecretUsageBatch, StoredSecret } from '../db/contract.ts';
import { parsePublicKeys, storedKey } from './keypair-keys.ts';
import { livePublicKeys } from './public-keys.ts';
import { currentTokenGeneration, keypairView, type AuthenticationResult, type CreatedKeypair, type IssuedKeypair, type KeypairDoc, type KeypairListFilter, type KeypairView } from './keypair-views.ts';

export { liveSecrets } from './secrets.ts';
export { currentTokenGeneration, keypairView } from './keypair-views.ts';
export type { AuthenticationFailure, AuthenticationResult, CreatedKeypair, EndedSecretView, IssuedKeypair, KeypairDoc, KeypairListFilter, KeypairStatus, KeypairView, PreviousSecretView, SecretView } from './keypair-views.ts';
const LAST_USED_INTERVAL_MS = 60_000;


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
  /** Per-secret usage counted in memory, written about once a minute (secret-usage.ts). */
  readonly #usage: SecretUsageCounter;
  /** How long ended secrets are recognised. */
  readonly #endedRetentionMs: number;
  #reportError: (err: unknown, what: string) => void = () => {};

  constructor(deps: { store: KeypairStore; owners: OwnerService; scopes: ScopeCatalog; hasher: SecretHasher; audit: AuditLog; clock: Clock; lockout: KeyportConfig['lockout']; revocationFeed?: RevocationFeed; endedRetentionDays?: number }) {
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
    this.#endedRetentionMs = (deps.endedRetentionDays ?? 30) * 86_400_000;
    this.#usage = new SecretUsageCounter({
      write: (keyId, batches) => this.#writeUsage(keyId, batches),
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
    return keypairView(doc, this.#clock.now(), this.#endedRetentionMs);
  }

  /**
   * `expiresAt`: when the keypair stops working (null: never; left out: the
   * account's maximum lifetime from now, or never). Must be in the future and
   * within the account's maximum lifetime (expiry.ts, resolveExpiry).
   * `publicKeys` (JWK or PEM each) make it a key-based keypair too; with
   * `secret: false` it has no secret at all (then at least one key is needed).
   */
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[]; expiresAt?: Date | null; dpopRequired?: boolean }, actor: Actor): Promise<IssuedKeypair>;
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[]; expiresAt?: Date | null; dpopRequired?: boolean; publicKeys?: unknown[]; secret?: boolean }, actor: Actor): Promise<CreatedKeypair>;
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[]; expiresAt?: Date | null; dpopRequired?: boolean; publicKeys?: unknown[]; secret?: boolean }, actor: Actor): Promise<CreatedKeypair> {
    const owner = await this.#owners.resolveActiveOwner(ownerRef);
    const name = validName(input.name);
    const comment = this.#validComment(input.comment ?? '');
    const scopes = this.#scopes.assertGrantable(input.scopes ?? [], owner.type);
    const dpopRequired = validDpopRequired(input.dpopRequired ?? false);
    const keys = await parsePublicKeys(input.publicKeys ?? []);
    const withSecret = input.secret ?? true;
    if (!withSecret && !keys.length) throw invalidInput('a keypair without a secret needs at least one public key');
    const now = this.#clock.now();
    const expiresAt = resolveExpiry(input.expiresAt, await this.#owners.maxKeypairLifetimeDays(owner.accountId), now);
    const secret = withSecret ? newSecret() : null;
    const doc = await this.#store.insert({
      _id: newKeyId(),
      ownerType: owner.type,
      accountId: owner.accountId,
      environmentId: owner.environmentId,
      name,
      comment,
      scopes,
      enabled: true,
      secrets: secret === null ? [] : [{ hash: this.#hasher.hash(secret), createdAt: now, expiresAt: null, hint: secretHint(secret) }],
      ...(keys.length ? { publicKeys: keys.map((key) => storedKey(key, now)) } : {}),
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
      expiresAt,
      ...(dpopRequired ? { dpopRequired } : {}),
    });
    // Written first, checked after (OwnerService.afterCreating): never a keypair left in a closed owner.
    await this.#owners.afterCreating(() => this.#owners.resolveActiveOwner(ownerRef), () => this.#store.delete(doc._id));
    await this.#audit.record({
      actor, action: 'keypair.created', ...this.#target(doc),
      details: { name, scopes, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}), ...(dpopRequired ? { dpopRequired } : {}), ...(keys.length ? { publicKeys: keys.map((k) => k.thumbprint), secret: withSecret } : {}) },
    });
    return { keypair: this.view(doc), secret };
  }

  /**
   * Replaces the whole keypair: a new key id and a new secret, with the old
   * one's name, comment, scopes, owner and enabled state; the old keypair is
   * deleted (its tokens stop as after a removal). Its expiry date carries over
   * while it is in the future and within the account's maximum lifetime;
   * otherwise the new keypair gets the expiry a new one gets. Public keys do not
   * carry over: a replacement is a fresh credential (a key suspected leaked must
   * not come along); the new keypair gets a secret, and keys are added again.
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
      secrets: [{ hash: this.#hasher.hash(secret), createdAt: now, expiresAt: null, hint: secretHint(secret) }],
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
    await this.#usage.flush(keyId);
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
    await this.#usage.flush();
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
  async rotate(keyId: string, grace: GracePeriod, actor: Actor, options: { revokeTokens?: boolean; retireWhenIdle?: RetireWhenIdle } = {}): Promise<IssuedKeypair> {
    const revokeTokens = options.revokeTokens ?? false;
    if (!Object.hasOwn(GRACE_PERIODS, grace)) throw invalidInput(`grace must be one of ${Object.keys(GRACE_PERIODS).join(', ')}`);
    if (options.retireWhenIdle !== undefined && !Object.hasOwn(RETIRE_WHEN_IDLE, options.retireWhenIdle)) throw invalidInput(`retireWhenIdle must be one of ${Object.keys(RETIRE_WHEN_IDLE).join(', ')}`);
    if (options.retireWhenIdle !== undefined && grace === '0') throw invalidInput('retireWhenIdle needs a grace period: a regeneration ends the old secret at once');
    const secret = newSecret();
    const hash = this.#hasher.hash(secret);
    if (!isWellFormedKeyId(keyId)) throw notFound('keypair');
    // Usage counted here lands on the right secrets whatever the rotation does; written first, it ends with them.
    await this.#usage.flush(keyId);
    const rotationOptions = { hint: secretHint(secret), retentionMs: this.#endedRetentionMs, ...(options.retireWhenIdle ? { retireWhenIdleMs: RETIRE_WHEN_IDLE[options.retireWhenIdle] } : {}) };
    let now = this.#clock.now();
    let rotation = rotatedSecrets([], hash, now, GRACE_PERIODS[grace], rotationOptions);
    // Another process may rotate at the same time: the store conditions the write on the
    // revision it read, so two rotations never both keep "their" previous secret.
    const result = await this.#store.rewrite(keyId, (current) => {
      now = this.#clock.now();
      rotation = rotatedSecrets(current.secrets, hash, now, GRACE_PERIODS[grace], { ...rotationOptions, endedSecrets: current.endedSecrets ?? [] });
      const set: KeypairChanges = { secrets: rotation.secrets, endedSecrets: rotation.endedSecrets, lastRotatedAt: now, updatedAt: now };
      if (grace === '0') Object.assign(set, unlockedCounters());
      if (revokeTokens) set.tokensRevokedAt = now;
      return { set, advanceTokenGeneration: revokeTokens };
      // Each lost attempt means another rotation landed: enough attempts for a burst of them from several processes.
    }, 10);
    if (result.outcome === 'not_found') throw notFound('keypair');
    if (result.outcome === 'conflict') throw new DomainError('conflict', 'the keypair changed during the rotation; try again');
    const { before: current, after: doc } = result;
    const { secrets, endedEarlierPrevious: endedPrevious } = rotation;
    if (revokeTokens) await this.#revocationFeed?.keypairTokensBelow(doc._id, currentTokenGeneration(doc));
    await this.#audit.record({
      actor,
      action: grace === '0' ? 'keypair.regenerated' : 'keypair.rotated',
      ...this.#target(doc),
      details: { grace, previousSecretExpiresAt: secrets[1]?.expiresAt?.toISOString() ?? null, endedEarlierPreviousSecret: endedPrevious, unlocked: grace === '0' && isLocked(current, now), revokedTokens: revokeTokens, hint: shownHint(secretHint(secret)), ...(options.retireWhenIdle ? { retireWhenIdle: options.retireWhenIdle } : {}) },
    });
    return { keypair: this.view(doc), secret };
  }

  /**
   * Ends the previous secret now, before its grace period is over. Refused
   * (previous_secret_in_use) when it was used within the last hour, unless
   * `force`: a client may still depend on it.
   */
  async endPreviousSecret(keyId: string, actor: Actor, options: { force?: boolean } = {}): Promise<KeypairView> {
    const force = options.force ?? false;
    await this.#usage.flush(keyId);
    let ended: StoredSecret | null = null;
    const doc = await this.#rewriteSecrets(keyId, (current, now) => {
      const next = withPreviousEnded(current, now, this.#endedRetentionMs, { force, lastUsedAt: previousSecret(current, now)?.lastUsedAt ?? null });
      ended = next.previous;
      return { secrets: next.secrets, endedSecrets: next.endedSecrets };
    });
    const previous = ended as StoredSecret | null;
    await this.#audit.record({ actor, action: 'keypair.previous_secret_ended', ...this.#target(doc), details: { hint: shownHint(previous?.hint), lastUsedAt: previous?.lastUsedAt?.toISOString() ?? null, expiresAt: previous?.expiresAt?.toISOString() ?? null, force } });
    return this.view(doc);
  }

  /** Moves the end of the grace period to `until` (later than now set, at most 72 hours after the rotation). */
  async extendGrace(keyId: string, until: Date, actor: Actor): Promise<KeypairView> {
    if (Number.isNaN(until.getTime())) throw invalidInput('until must be a date and time');
    let before: Date | null = null;
    const doc = await this.#rewriteSecrets(keyId, (current, now) => {
      before = previousSecret(current, now)?.expiresAt ?? null;
      return { secrets: withGraceExtended(current, now, until) };
    });
    await this.#audit.record({ actor, action: 'keypair.grace_extended', ...this.#target(doc), details: { from: (before as Date | null)?.toISOString() ?? null, until: until.toISOString(), rotatedAt: rotatedAt(doc)?.toISOString() ?? null } });
    return this.view(doc);
  }

  /** Sets (or clears: null) retireWhenIdle on the previous secret: it ends early once unused this long, counted from now at the earliest. */
  async setRetireWhenIdle(keyId: string, idle: RetireWhenIdle | null, actor: Actor): Promise<KeypairView> {
    if (idle !== null && !Object.hasOwn(RETIRE_WHEN_IDLE, idle)) throw invalidInput(`retireWhenIdle must be one of ${Object.keys(RETIRE_WHEN_IDLE).join(', ')}, or null`);
    await this.#usage.flush(keyId);
    const doc = await this.#rewriteSecrets(keyId, (current, now) => ({ secrets: withRetireWhenIdle(current, now, idle === null ? null : RETIRE_WHEN_IDLE[idle]) }));
    await this.#audit.record({ actor, action: 'keypair.updated', ...this.#target(doc), details: { retireWhenIdle: idle } });
    return this.view(doc);
  }

  /** A rotation-safety change of the secret lists, conditioned on the revision read (as rotate()). */
  async #rewriteSecrets(keyId: string, build: (current: KeypairDoc, now: Date) => Pick<KeypairChanges, 'secrets' | 'endedSecrets'>): Promise<KeypairDoc> {
    if (!isWellFormedKeyId(keyId)) throw notFound('keypair');
    const result = await this.#store.rewrite(keyId, (current) => {
      const now = this.#clock.now();
      return { set: { ...build(current, now), updatedAt: now } };
    }, 5);
    if (result.outcome === 'not_found') throw notFound('keypair');
    if (result.outcome === 'conflict') throw new DomainError('conflict', 'the keypair changed meanwhile; try again');
    return result.after;
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
  async authenticate(keyId: string, secret: string, preloaded?: KeypairDoc | null, address?: () => string): Promise<AuthenticationResult> {
    const doc = preloaded === null || preloaded?._id === keyId ? preloaded : await this.findForAuthentication(keyId);
    return this.#check(doc, secret, { afterCounting: false, address });
  }

  async #check(doc: KeypairDoc | null, secret: string, { afterCounting, address }: { afterCounting: boolean; address: (() => string) | undefined }): Promise<AuthenticationResult> {
    // A mistyped secret fails its checksum: no hash, no database work, no lockout
    // count; checked first, so that it costs the same for known and unknown key ids.
    if (!isWellFormedSecret(secret)) return { ok: false, reason: doc ? 'malformed_secret' : 'unknown_key' };
    if (!doc) {
      this.#hasher.burn(secret);
      return { ok: false, reason: 'unknown_key' };
    }
    const now = this.#clock.now();
    const live = liveSecrets(doc, now);
    const ended = endedSecretHashes(doc, now, this.#endedRetentionMs);
    const liveHashes = live.map((s) => s.hash);
    // One HMAC, compared with the live and the ended hashes alike.
    const matched = this.#hasher.matchIndex(secret, ended.length ? [...liveHashes, ...ended] : liveHashes);
    if (matched >= live.length) {
      // An ended secret: refused exactly like a wrong one, but no guess (whoever
      // holds it once held a valid secret), so never counted toward the lockout;
      // noted in memory as "ended secret still in use" instead.
      this.#usage.endedSeen(doc._id, ended[matched - live.length]!, now, address?.() ?? null);
      return { ok: false, reason: 'ended_secret' };
    }
    // Expired: refused like a wrong secret (after the same hashing), and not counted: no guess can succeed.
    if (isExpired(doc, now)) return { ok: false, reason: 'expired' };
    // Locked: refused like a wrong secret, and not counted (a failure never extends a lock).
    if (isLocked(doc, now)) return { ok: false, reason: 'locked' };
    if (matched < 0) {
      // Counted after the answer, not before it (#recordFailure).
      this.#recordFailure(doc);
      return { ok: false, reason: 'wrong_secret' };
    }
    // The right secret while wrong ones are still being counted here: they come
    // first (they may lock the key, and a success resets the count), then the
    // record as it stands after them decides.
    if (!afterCounting && this.#failures.pending(doc._id)) {
      await this.#failures.counted(doc._id);
      return this.#check(await this.findForAuthentication(doc._id), secret, { afterCounting: true, address });
    }
    if (!doc.enabled) return { ok: false, reason: 'disabled' };
    if (!(await this.#owners.isActive(doc))) return { ok: false, reason: 'owner_inactive' };
    if (hasFailuresToReset(doc)) await this.#recordSuccess(doc._id, now);
    this.#noteUse(doc._id, now);
    this.#usage.used(doc._id, live[matched]!.hash, now);
    return { ok: true, keypair: doc };
  }

  /**
   * After oidc-provider verified a client assertion (signature, iss/sub, aud,
   * exp, the alg against the key) with the public key `thumbprint` of `doc`:
   * the keypair's own rules, as for a secret. A key past its grace period is a
   * failure and counts toward lockout; a locked or expired keypair is refused and not counted.
   */
  async authenticateWithKey(doc: KeypairDoc, thumbprint: string, options: { afterCounting?: boolean } = {}): Promise<AuthenticationResult> {
    const now = this.#clock.now();
    const live = livePublicKeys(doc.publicKeys, now).some((key) => key.thumbprint === thumbprint);
    // An expired keypair: refused whatever authenticates it, and not counted (as for a secret).
    if (isExpired(doc, now)) return { ok: false, reason: 'expired' };
    if (isLocked(doc, now)) return { ok: false, reason: 'locked' };
    if (!live) {
      this.#recordFailure(doc);
      return { ok: false, reason: 'retired_key' };
    }
    if (!options.afterCounting && this.#failures.pending(doc._id)) {
      await this.#failures.counted(doc._id);
      const fresh = await this.findForAuthentication(doc._id);
      if (!fresh) return { ok: false, reason: 'unknown_key' };
      return this.authenticateWithKey(fresh, thumbprint, { afterCounting: true });
    }
    if (!doc.enabled) return { ok: false, reason: 'disabled' };
    if (!(await this.#owners.isActive(doc))) return { ok: false, reason: 'owner_inactive' };
    if (hasFailuresToReset(doc)) await this.#recordSuccess(doc._id, now);
    this.#noteKeyUse(doc._id, thumbprint, now);
    return { ok: true, keypair: doc };
  }

  /** A client assertion of this keypair that failed its checks: counted toward lockout like a wrong secret (not while locked). */
  assertionFailed(doc: KeypairDoc): void {
    if (!isLocked(doc, this.#clock.now())) this.#recordFailure(doc);
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

  /** How many days ended secrets are recognised (secrets.endedRetentionDays), for the surfaces to say. */
  get endedRetentionDays(): number {
    return this.#endedRetentionMs / 86_400_000;
  }

  /** Settles once the per-secret usage counted so far in this process is written (of `keyId`, or of every key). */
  usageRecorded(keyId?: string): Promise<void> {
    return this.#usage.flush(keyId);
  }

  /** At shutdown: writes the usage still counted in memory and stops its timer. */
  close(): Promise<void> {
    return this.#usage.close();
  }

  /**
   * Writes one key's counted usage, merged by secret (secrets.ts, withUsage),
   * then audits what is due: a previous secret used during its grace period,
   * an ended secret presented, each at most once a day per secret, by `system`.
   */
  async #writeUsage(keyId: string, batches: SecretUsageBatch[]): Promise<void> {
    const now = this.#clock.now();
    let events: UsageEvent[] = [];
    const written = await this.#store.recordSecretUsage(keyId, (current) => {
      const next = withUsage(current, batches, now, this.#endedRetentionMs);
      events = next.events;
      return { secrets: next.secrets, endedSecrets: next.endedSecrets };
    });
    if (!written) return;
    for (const event of events) await this.#audit.record({ actor: 'system', action: event.action, ...this.#target(written.after), details: event.details });
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

  /** Per key: keysLastUsedAt and lastUsedAt at most once a minute, after the response. */
  #noteKeyUse(keyId: string, thumbprint: string, now: Date): void {
    const memo = `${keyId} ${thumbprint}`;
    const last = this.#lastUsedWrites.get(memo) ?? 0;
    if (now.getTime() - last < LAST_USED_INTERVAL_MS) return;
    this.#lastUsedWrites.set(memo, now.getTime());
    if (this.#lastUsedWrites.size > 100_000) this.#lastUsedWrites.clear();
    setImmediate(() => {
      this.#store.noteKeyUsed(keyId, thumbprint, now).catch(() => { /* best effort: a lost write only makes "last used" older */ });
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
