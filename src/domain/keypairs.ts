// API keypairs: creation, the keypair lifecycle, and the secret check with
// lockout that the token endpoint relies on (docs/architecture.md, Keypair lifecycle). No HTTP in here.
import type { KeyportConfig } from '../config.ts';
import type { Models } from '../db/models/index.ts';
import type { KeypairDoc, StoredSecret } from '../db/models/keypair.ts';
import type { Actor, AuditLog } from './audit.ts';
import { readThrough } from './cache-fetch.ts';
import type { ChangeFeed } from './change-feed.ts';
import type { Clock } from './clock.ts';
import { isWellFormedKeyId, isWellFormedSecret, newKeyId, newSecret, type SecretHasher } from './credentials.ts';
import { DomainError, invalidInput, notFound } from './errors.ts';
import { COMMENT_MAX, GRACE_PERIODS, type GracePeriod } from './limits.ts';
import { validName, type Owner, type OwnerService } from './owners.ts';
import { FailureCounts } from './failure-counts.ts';
import type { ScopeCatalog } from './scope-catalog.ts';
import { SerialWrites } from './serial-writes.ts';
import { LRUCache } from 'lru-cache';
import { trusted } from 'mongoose';


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
}

/** A keypair with the one secret that was just issued: the only time a secret leaves Keyport. */
export interface IssuedKeypair {
  keypair: KeypairView;
  secret: string;
}

export type AuthenticationFailure = 'unknown_key' | 'malformed_secret' | 'wrong_secret' | 'locked' | 'disabled' | 'owner_inactive';
export type AuthenticationResult =
  | { ok: true; keypair: KeypairDoc }
  | { ok: false; reason: AuthenticationFailure };

const LAST_USED_INTERVAL_MS = 60_000;

function isLocked(doc: Pick<KeypairDoc, 'lockedPermanently' | 'lockedUntil'>, now: Date): boolean {
  return doc.lockedPermanently || (doc.lockedUntil !== null && doc.lockedUntil > now);
}

/** Secrets that authenticate at `now`: the current one, and a previous one still inside its grace period. */
export function liveSecrets(doc: Pick<KeypairDoc, 'secrets'>, now: Date): StoredSecret[] {
  return doc.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now);
}

/** The generation new tokens of this keypair carry (records written before generations existed have none: 0). */
export function currentTokenGeneration(doc: Pick<KeypairDoc, 'tokenGeneration'>): number {
  return doc.tokenGeneration ?? 0;
}

export class KeypairService {
  readonly #models: Models;
  readonly #owners: OwnerService;
  readonly #scopes: ScopeCatalog;
  readonly #hasher: SecretHasher;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #lockout: KeyportConfig['lockout'];
  /** Per key: when lastUsedAt was last written by this process (at most once a minute). */
  readonly #lastUsedWrites = new Map<string, number>();
  /** Every write of a keypair document goes through here (see serial-writes.ts: FerretDB v1 updates are not atomic). */
  readonly #writes: SerialWrites;
  readonly #changes: ChangeFeed;
  /** Wrong secrets answered and not yet counted (#recordFailure). */
  readonly #failures: FailureCounts<KeypairDoc>;
  #reportError: (err: unknown, what: string) => void = () => {};
  /**
   * Keypair records for authentication, read once and kept in process (oidc-provider
   * asks for the client on every token request). Every change to a keypair goes
   * through #changed(), which clears it here at once and, through the change feed,
   * in every other process within a poll. The TTL is only a safety net (a lost poll).
   */
  readonly #records = new LRUCache<string, { doc: KeypairDoc | null }>({
    max: 250_000,
    ttl: 60_000,
    // Past the TTL, answer from the old copy while a fresh one loads in the background:
    // a change deletes the entry outright (never merely stale), so this only affects the
    // safety-net refresh, which must not put a database read on the hot path.
    allowStale: true,
    fetchMethod: async (keyId) => ({ doc: await this.#models.Keypair.findById(keyId).lean<KeypairDoc>() }),
  });

  constructor(deps: { models: Models; owners: OwnerService; scopes: ScopeCatalog; hasher: SecretHasher; audit: AuditLog; clock: Clock; lockout: KeyportConfig['lockout']; changes: ChangeFeed; failureWritesInFlight: number }) {
    this.#models = deps.models;
    this.#owners = deps.owners;
    this.#scopes = deps.scopes;
    this.#hasher = deps.hasher;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#lockout = deps.lockout;
    this.#writes = new SerialWrites(deps.models.Keypair.db, 'keypair_write_leases');
    this.#changes = deps.changes;
    this.#failures = new FailureCounts<KeypairDoc>({
      maxInFlight: deps.failureWritesInFlight,
      write: (keyId, doc, count) => this.#serialized(keyId, () => this.#countFailures(doc, count), {
        othersNeedIt: (outcome) => outcome.othersMustHear,
        keepHere: (outcome) => outcome.record,
      }).then(() => {}),
      onError: (err, what) => this.#reportError(err, what),
    });
    this.#changes.onChange((kind, key) => {
      if (kind !== 'keypair') return;
      this.#records.delete(key);
      this.#changedDuringWarmUp?.add(key);
    });
  }

  /** Keys changed while warmUp() was reading: their (possibly older) copy is not cached. */
  #changedDuringWarmUp: Set<string> | null = null;

  /**
   * Fills the authentication cache with the most recently used keypairs, so that
   * the first request of each client after a start does not wait for a database
   * read (on the embedded FerretDB, whose SQLite backend uses no index, one read
   * costs a scan of the collection). Runs in the background at server start.
   */
  async warmUp(limit = 100_000): Promise<number> {
    this.#changedDuringWarmUp = new Set();
    try {
      const docs = await this.#models.Keypair.find({}).sort({ lastUsedAt: -1 }).limit(limit).lean<KeypairDoc[]>();
      let cached = 0;
      for (const doc of docs) {
        if (this.#changedDuringWarmUp.has(doc._id) || this.#records.has(doc._id)) continue;
        this.#records.set(doc._id, { doc });
        cached++;
      }
      return cached;
    } finally {
      this.#changedDuringWarmUp = null;
    }
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
    };
  }

  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[] }, actor: Actor): Promise<IssuedKeypair> {
    const owner = await this.#owners.resolveActiveOwner(ownerRef);
    const name = validName(input.name);
    const comment = this.#validComment(input.comment ?? '');
    const scopes = this.#scopes.assertGrantable(input.scopes ?? [], owner.type);
    const now = this.#clock.now();
    const secret = newSecret();
    const doc = await this.#models.Keypair.create({
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
    });
    // Written first, checked after (OwnerService.afterCreating): never a keypair left in a closed owner.
    await this.#owners.afterCreating(() => this.#owners.resolveActiveOwner(ownerRef), () => this.#serialized(doc._id, () => this.#models.Keypair.deleteOne({ _id: doc._id })));
    await this.#changed(doc._id); // clears "no such key" answers cached before it existed
    await this.#audit.record({ actor, action: 'keypair.created', ...this.#target(doc), details: { name, scopes } });
    return { keypair: this.view(doc.toObject()), secret };
  }

  async get(keyId: string): Promise<KeypairView> {
    await this.failuresCounted(keyId);
    return this.view(await this.#load(keyId));
  }

  /** The raw record, for the OAuth layer (it never leaves the process); served from the in-process cache. */
  async findForAuthentication(keyId: string): Promise<KeypairDoc | null> {
    if (!isWellFormedKeyId(keyId)) return null;
    return (await readThrough(this.#records, keyId))?.doc ?? null;
  }

  async list(owner: Owner, page: { limit: number; offset: number; status?: KeypairStatus }): Promise<{ items: KeypairView[]; total: number }> {
    await this.failuresCounted();
    const filter: Record<string, unknown> = { accountId: owner.accountId, environmentId: owner.environmentId };
    const now = this.#clock.now();
    if (page.status === 'locked') {
      filter.$or = [{ lockedPermanently: true }, { lockedUntil: trusted({ $gt: now }) }];
    } else if (page.status === 'disabled') {
      filter.enabled = false; // locked or not: a lock must not hide that a key is disabled
    } else if (page.status) {
      filter.enabled = true;
      filter.lockedPermanently = false;
      filter.$or = [{ lockedUntil: null }, { lockedUntil: trusted({ $lte: now }) }];
    }
    const [docs, total] = await Promise.all([
      this.#models.Keypair.find(filter).sort({ createdAt: -1, _id: 1 }).skip(page.offset).limit(page.limit).lean<KeypairDoc[]>(),
      this.#models.Keypair.countDocuments(filter),
    ]);
    return { items: docs.map((doc) => this.view(doc)), total };
  }

  async update(keyId: string, input: { name?: string; comment?: string; scopes?: string[] }, actor: Actor): Promise<KeypairView> {
    const current = await this.#load(keyId);
    const set: Partial<KeypairDoc> = { updatedAt: this.#clock.now() };
    if (input.name !== undefined) set.name = validName(input.name);
    if (input.comment !== undefined) set.comment = this.#validComment(input.comment);
    if (input.scopes !== undefined) set.scopes = this.#scopes.assertGrantable(input.scopes, current.ownerType);
    const doc = await this.#serialized(keyId, () => this.#models.Keypair.findOneAndUpdate({ _id: keyId }, { $set: set, $inc: { revision: 1 } }, { returnDocument: 'after' }).lean<KeypairDoc>());
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
    const update = enabled
      ? { $set: { enabled, updatedAt: now }, $inc: { revision: 1 } }
      : { $set: { enabled, updatedAt: now, tokensRevokedAt: now }, $inc: { revision: 1, tokenGeneration: 1 } };
    const doc = await this.#serialized(keyId, () => this.#models.Keypair.findOneAndUpdate({ _id: keyId }, update, { returnDocument: 'after' }).lean<KeypairDoc>());
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
    const result = await this.#serialized(keyId, async () => {
      // Another process may rotate at the same time: the update is conditioned on the
      // revision we read, so two rotations never both keep "their" previous secret.
      for (let attempt = 0; attempt < 5; attempt++) {
        const now = this.#clock.now();
        const current = await this.#load(keyId);
        const currentSecret = current.secrets.find((s) => s.expiresAt === null);
        const fresh: StoredSecret = { hash, createdAt: now, expiresAt: null };
        const secrets = grace === '0' || !currentSecret
          ? [fresh]
          : [fresh, { ...currentSecret, expiresAt: new Date(now.getTime() + GRACE_PERIODS[grace]) }];
        const set: Partial<KeypairDoc> = { secrets, lastRotatedAt: now, updatedAt: now };
        if (grace === '0') Object.assign(set, this.#unlockedFields());
        if (revokeTokens) set.tokensRevokedAt = now;
        const doc = await this.#models.Keypair.findOneAndUpdate(
          { _id: keyId, revision: current.revision },
          { $set: set, $inc: revokeTokens ? { revision: 1, tokenGeneration: 1 } : { revision: 1 } },
          { returnDocument: 'after' },
        ).lean<KeypairDoc>();
        if (doc) return { doc, current, secrets, now };
      }
      throw new DomainError('conflict', 'the keypair changed during the rotation; try again');
    });
    const { doc, current, secrets, now } = result;
    const endedPrevious = current.secrets.some((s) => s.expiresAt !== null && s.expiresAt > now);
    await this.#audit.record({
      actor,
      action: grace === '0' ? 'keypair.regenerated' : 'keypair.rotated',
      ...this.#target(doc),
      details: { grace, previousSecretExpiresAt: secrets[1]?.expiresAt?.toISOString() ?? null, endedEarlierPreviousSecret: endedPrevious, unlocked: grace === '0' && isLocked(current, now), revokedTokens: revokeTokens },
    });
    return { keypair: this.view(doc), secret };
  }

  async unlock(keyId: string, actor: Actor): Promise<KeypairView> {
    const doc = await this.#serialized(keyId, () => this.#models.Keypair.findOneAndUpdate({ _id: keyId }, { $set: { ...this.#unlockedFields(), updatedAt: this.#clock.now() }, $inc: { revision: 1 } }, { returnDocument: 'after' }).lean<KeypairDoc>());
    if (!doc) throw notFound('keypair');
    await this.#audit.record({ actor, action: 'keypair.unlocked', ...this.#target(doc) });
    return this.view(doc);
  }

  async remove(keyId: string, actor: Actor): Promise<void> {
    const doc = await this.#serialized(keyId, () => this.#models.Keypair.findOneAndDelete({ _id: keyId }).lean<KeypairDoc>());
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
    if (doc.failedAttempts > 0 || doc.temporaryLocks > 0) await this.#recordSuccess(doc._id, now);
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
   * and locks the key at the threshold, in one single-document update (docs/architecture.md,
   * Lockout: the count and the lock are one atomic update). Below the threshold
   * the update is an $inc conditioned so that it cannot cross it; at the
   * threshold it is conditioned on the exact count, lock number and unlocked
   * state it saw, so exactly one lock happens and the failures after it (arriving
   * on a locked key) are not counted. A changed state (a concurrent lock,
   * success, unlock or rotation, in another process on MongoDB) makes the update
   * match nothing: re-read and decide again.
   *
   * Returns whether every process's cache must hear of it (the change feed):
   * when the batch began a run of failures (a cached record elsewhere may still
   * say "no failures", and a success there must reset the count) or locked the
   * key. The count in between decides nothing from a cache (a stale count only
   * makes the update above match nothing near the threshold, and re-read), so
   * a burst of wrong secrets, one change each, would only flood the feed that
   * every process reads four times a second. In that case it also returns the
   * record as written, which this process's cache keeps: the next wrong secret
   * of the key then reads nothing (a read per wrong secret made an existing
   * key's 401 slower than an unknown key's, and cost the database a read).
   */
  async #countFailures(doc: KeypairDoc, count: number): Promise<{ othersMustHear: boolean; record?: KeypairDoc }> {
    const { maxFailures } = this.#lockout;
    const now = this.#clock.now();
    const fields = { failedAttempts: 1, failuresAtLastLock: 1, temporaryLocks: 1, lockedUntil: 1, lockedPermanently: 1 } as const;
    type Counters = Pick<KeypairDoc, 'failedAttempts' | 'failuresAtLastLock' | 'temporaryLocks' | 'lockedUntil' | 'lockedPermanently'>;
    // A fresh filter per query: mongoose casts (and so rewrites) the filter objects it is given.
    const unlocked = () => ({ lockedPermanently: false, $or: [{ lockedUntil: null }, { lockedUntil: trusted({ $lte: now }) }] });
    let seen: Counters | null = doc;
    for (let attempt = 0; attempt < 10 && seen && !isLocked(seen, now); attempt++) {
      const lastLock = seen.failuresAtLastLock;
      // How many more failures this run takes; the last of them locks the key.
      const untilLock = Math.max(lastLock + maxFailures - seen.failedAttempts, 1);
      if (count < untilLock) {
        const counted = await this.#models.Keypair.findOneAndUpdate(
          { _id: doc._id, ...unlocked(), failuresAtLastLock: lastLock, failedAttempts: trusted({ $lt: lastLock + maxFailures - count }) },
          { $inc: { failedAttempts: count } },
          // No projection: FerretDB v1 does not implement findAndModify's `fields`.
          { returnDocument: 'after' },
        ).lean<KeypairDoc>();
        if (counted) return counted.failedAttempts - counted.failuresAtLastLock <= count ? { othersMustHear: true } : { othersMustHear: false, record: counted };
      } else {
        const permanent = this.#lockout.mode === 'permanent' || seen.temporaryLocks >= this.#lockout.maxTemporaryLocks;
        const lockedUntil = new Date(now.getTime() + this.#lockout.durationSeconds * 1000 * 2 ** seen.temporaryLocks);
        const failedAttempts = seen.failedAttempts + untilLock;
        const locked = await this.#models.Keypair.findOneAndUpdate(
          { _id: doc._id, ...unlocked(), failuresAtLastLock: lastLock, failedAttempts: seen.failedAttempts, temporaryLocks: seen.temporaryLocks },
          permanent
            ? { $set: { failedAttempts, failuresAtLastLock: failedAttempts, lockedPermanently: true } }
            : { $set: { failedAttempts, failuresAtLastLock: failedAttempts, lockedUntil }, $inc: { temporaryLocks: 1 } },
          { returnDocument: 'after' },
        ).lean<KeypairDoc>();
        if (locked) {
          await this.#audit.record({
            actor: 'system',
            action: 'keypair.locked',
            ...this.#target(locked),
            details: { failedAttempts, permanent, lockedUntil: permanent ? null : lockedUntil.toISOString(), lockNumber: permanent ? null : locked.temporaryLocks },
          });
          return { othersMustHear: true };
        }
      }
      seen = await this.#models.Keypair.findById(doc._id, fields).lean<Counters>();
    }
    return { othersMustHear: true }; // locked meanwhile, gone, or still contended: let every cache read it again
  }

  /** A success ends a run of failures: the counters start over (a lock in force stays). */
  async #recordSuccess(keyId: string, now: Date): Promise<void> {
    await this.#serialized(keyId, () => this.#models.Keypair.updateOne(
      { _id: keyId, lockedPermanently: false, $or: [{ lockedUntil: null }, { lockedUntil: trusted({ $lte: now }) }] },
      { $set: { failedAttempts: 0, failuresAtLastLock: 0, temporaryLocks: 0 } },
    ));
  }

  /** Writes lastUsedAt at most once a minute per key, after the response (never on the hot path). */
  #noteUse(keyId: string, now: Date): void {
    const last = this.#lastUsedWrites.get(keyId) ?? 0;
    if (now.getTime() - last < LAST_USED_INTERVAL_MS) return;
    this.#lastUsedWrites.set(keyId, now.getTime());
    if (this.#lastUsedWrites.size > 100_000) this.#lastUsedWrites.clear();
    setImmediate(() => {
      this.#serialized(keyId, () => this.#models.Keypair.updateOne(
        { _id: keyId, $or: [{ lastUsedAt: null }, { lastUsedAt: trusted({ $lte: new Date(now.getTime() - LAST_USED_INTERVAL_MS) }) }] },
        { $set: { lastUsedAt: now } },
      ), { quiet: true }).catch(() => { /* best effort: a lost write only makes "last used" a minute older */ });
    });
  }

  /**
   * Runs one write of a keypair document after every earlier one (serial-writes.ts),
   * then tells every process's cache (the change feed). `quiet` is for writes
   * that authentication does not read (lastUsedAt). `othersNeedIt` decides from
   * the write's result whether other processes must hear of it; this process's
   * cache then drops the record, or keeps the one `keepHere` returns, the record
   * as the write left it (a failed write publishes everywhere).
   */
  async #serialized<T>(keyId: string, write: () => PromiseLike<T>, options: { quiet?: boolean; othersNeedIt?: (written: T) => boolean; keepHere?: (written: T) => KeypairDoc | undefined } = {}): Promise<T> {
    let everywhere = true;
    let kept: KeypairDoc | undefined;
    try {
      const written = await this.#writes.run(keyId, write);
      if (options.othersNeedIt) everywhere = options.othersNeedIt(written);
      kept = options.keepHere?.(written);
      return written;
    } finally {
      if (!options.quiet) {
        if (everywhere) await this.#changed(keyId);
        else if (kept) this.#records.set(keyId, { doc: kept });
        else this.#changes.applyHere('keypair', keyId);
      }
    }
  }

  async #changed(keyId: string): Promise<void> {
    await this.#changes.publish('keypair', keyId);
  }

  #unlockedFields(): Partial<KeypairDoc> {
    return { failedAttempts: 0, failuresAtLastLock: 0, temporaryLocks: 0, lockedUntil: null, lockedPermanently: false };
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
    const doc = isWellFormedKeyId(keyId) ? await this.#models.Keypair.findById(keyId).lean<KeypairDoc>() : null;
    if (!doc) throw notFound('keypair');
    return doc;
  }
}
