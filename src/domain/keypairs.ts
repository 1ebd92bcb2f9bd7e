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
import type { ScopeCatalog } from './scope-catalog.ts';
import { liveSecrets, rotatedSecrets } from './secrets.ts';
import type { KeypairChanges, KeypairRecord, KeypairStore } from '../db/contract.ts';
import { parsePublicKeys, publicKeyViews, storedKey, type PublicKeyView } from './keypair-keys.ts';
import { livePublicKeys } from './public-keys.ts';

export { liveSecrets } from './secrets.ts';
/** The stored keypair; the name the OAuth layer knows it by. */
export type KeypairDoc = KeypairRecord;


export type KeypairStatus = 'enabled' | 'disabled' | 'locked';

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
  /** Public keys for private_key_jwt (current and retiring); [] for a secret-only keypair. */
  publicKeys: PublicKeyView[];
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
  /** private_key_jwt: an assertion that failed its checks (signature, claims, replay), or signed by a key no longer live. */
  | 'bad_assertion' | 'retired_key';
export type AuthenticationResult =
  | { ok: true; keypair: KeypairDoc }
  | { ok: false; reason: AuthenticationFailure };

const LAST_USED_INTERVAL_MS = 60_000;

/** The generation new tokens of this keypair carry (records written before generations existed have none: 0). */
export function currentTokenGeneration(doc: Pick<KeypairDoc, 'tokenGeneration'>): number {
  return doc.tokenGeneration ?? 0;
}

export class KeypairService {
  readonly #store: KeypairStore;
  readonly #owners: OwnerService;
  readonly #scopes: ScopeCatalog;
  readonly #hasher: SecretHasher;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #lockout: KeyportConfig['lockout'];
  /** Per key: when lastUsedAt was last written by this process (at most once a minute). */
  readonly #lastUsedWrites = new Map<string, number>();
  /** Wrong secrets answered and not yet counted (#recordFailure). */
  readonly #failures: FailureCounts<KeypairDoc>;
  #reportError: (err: unknown, what: string) => void = () => {};

  constructor(deps: { store: KeypairStore; owners: OwnerService; scopes: ScopeCatalog; hasher: SecretHasher; audit: AuditLog; clock: Clock; lockout: KeyportConfig['lockout'] }) {
    this.#store = deps.store;
    this.#owners = deps.owners;
    this.#scopes = deps.scopes;
    this.#hasher = deps.hasher;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#lockout = deps.lockout;
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
      publicKeys: publicKeyViews(doc, now),
    };
  }

  /**
   * `publicKeys` (JWK or PEM each) make it a key-based keypair too; with
   * `secret: false` it has no secret at all (then at least one key is needed).
   */
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[] }, actor: Actor): Promise<IssuedKeypair>;
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[]; publicKeys?: unknown[]; secret?: boolean }, actor: Actor): Promise<CreatedKeypair>;
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[]; publicKeys?: unknown[]; secret?: boolean }, actor: Actor): Promise<CreatedKeypair> {
    const owner = await this.#owners.resolveActiveOwner(ownerRef);
    const name = validName(input.name);
    const comment = this.#validComment(input.comment ?? '');
    const scopes = this.#scopes.assertGrantable(input.scopes ?? [], owner.type);
    const keys = await parsePublicKeys(input.publicKeys ?? []);
    const withSecret = input.secret ?? true;
    if (!withSecret && !keys.length) throw invalidInput('a keypair without a secret needs at least one public key');
    const now = this.#clock.now();
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
      secrets: secret === null ? [] : [{ hash: this.#hasher.hash(secret), createdAt: now, expiresAt: null }],
      ...(keys.length ? { publicKeys: keys.map((key) => storedKey(key, now)) } : {}),
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
    });
    // Written first, checked after (OwnerService.afterCreating): never a keypair left in a closed owner.
    await this.#owners.afterCreating(() => this.#owners.resolveActiveOwner(ownerRef), () => this.#store.delete(doc._id));
    await this.#audit.record({ actor, action: 'keypair.created', ...this.#target(doc), details: { name, scopes, ...(keys.length ? { publicKeys: keys.map((k) => k.thumbprint), secret: withSecret } : {}) } });
    return { keypair: this.view(doc), secret };
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
  async list(owner: Owner, page: { limit: number; offset: number; status?: KeypairStatus; search?: string }): Promise<{ items: KeypairView[]; total: number }> {
    await this.failuresCounted();
    const search = page.search?.trim() || undefined;
    const { records, total } = await this.#store.list(owner, { status: page.status, search, now: this.#clock.now(), limit: page.limit, offset: page.offset });
    return { items: records.map((doc) => this.view(doc)), total };
  }

  /** Whether the owner has a keypair of this name already, ignoring case and the spaces around it (the web UI asks before a second one). */
  async nameInUse(owner: Owner, name: string): Promise<boolean> {
    const trimmed = name.trim();
    return trimmed !== '' && this.#store.existsWithName(owner, trimmed);
  }

  async update(keyId: string, input: { name?: string; comment?: string; scopes?: string[] }, actor: Actor): Promise<KeypairView> {
    const current = await this.#load(keyId);
    const set: KeypairChanges = { updatedAt: this.#clock.now() };
    if (input.name !== undefined) set.name = validName(input.name);
    if (input.comment !== undefined) set.comment = this.#validComment(input.comment);
    if (input.scopes !== undefined) set.scopes = this.#scopes.assertGrantable(input.scopes, current.ownerType);
    const doc = await this.#store.change(keyId, set);
    if (!doc) throw notFound('keypair');
    const changed = Object.fromEntries(Object.entries(set).filter(([k]) => k !== 'updatedAt'));
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
   * After oidc-provider verified a client assertion (signature, iss/sub, aud,
   * exp, the alg against the key) with the public key `thumbprint` of `doc`:
   * the keypair's own rules, as for a secret. A key past its grace period is a
   * failure and counts toward lockout; a locked key is refused and not counted.
   */
  async authenticateWithKey(doc: KeypairDoc, thumbprint: string, options: { afterCounting?: boolean } = {}): Promise<AuthenticationResult> {
    const now = this.#clock.now();
    const live = livePublicKeys(doc.publicKeys, now).some((key) => key.thumbprint === thumbprint);
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
    return !!doc && doc.enabled && tokenGeneration >= currentTokenGeneration(doc) && (await this.#owners.isActive(doc));
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
