// Authentication of keypairs, for the OAuth layer: the secret check (with the
// ended secrets a stale client may still send), the check after a client
// assertion, whether a token may still be honoured, and the per-key queues that
// follow the answers: failure counts toward the lockout (failure-counts.ts) and
// per-secret usage (secret-usage.ts), both written after the answer, never on
// the token endpoint's path. The admin lifecycle (keypairs.ts) waits for these
// queues where it must show or change what they write. No HTTP in here.
import type { KeyportConfig } from '../config.ts';
import type { AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { isWellFormedKeyId, isWellFormedSecret, type SecretHasher } from './credentials.ts';
import { FailureCounts } from './failure-counts.ts';
import { failureWrite, hasFailuresToReset, isLocked } from './lockout.ts';
import type { OwnerService } from './owners.ts';
import { endedSecretHashes, liveSecrets, withUsage, type UsageEvent } from './secrets.ts';
import { SecretUsageCounter } from './secret-usage.ts';
import { isExpired } from './expiry.ts';
import type { DailyUsage } from './daily-usage.ts';
import type { KeypairStore, SecretUsageBatch } from '../db/contract.ts';
import { livePublicKeys } from './public-keys.ts';
import { currentTokenGeneration, keypairTarget, type AuthenticationResult, type KeypairDoc } from './keypair-views.ts';

const LAST_USED_INTERVAL_MS = 60_000;

export class KeypairAuthenticator {
  readonly #store: KeypairStore;
  readonly #owners: OwnerService;
  readonly #hasher: SecretHasher;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #lockout: KeyportConfig['lockout'];
  /** Per key: when lastUsedAt was last written by this process (at most once a minute). */
  readonly #lastUsedWrites = new Map<string, number>();
  /** Wrong secrets answered and not yet counted (#recordFailure). */
  readonly #failures: FailureCounts<KeypairDoc>;
  /** Per-secret usage counted in memory, written about once a minute (secret-usage.ts). */
  readonly #usage: SecretUsageCounter;
  /** How long ended secrets are recognised. */
  readonly #endedRetentionMs: number;
  /** Counts per day, for the keypair's usage chart. */
  readonly #daily: DailyUsage | undefined;
  #reportError: (err: unknown, what: string) => void = () => {};

  constructor(deps: { store: KeypairStore; owners: OwnerService; hasher: SecretHasher; audit: AuditLog; clock: Clock; lockout: KeyportConfig['lockout']; endedRetentionDays?: number; daily?: DailyUsage }) {
    this.#store = deps.store;
    this.#daily = deps.daily;
    this.#owners = deps.owners;
    this.#hasher = deps.hasher;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#lockout = deps.lockout;
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

  /** The raw record, for the OAuth layer (it never leaves the process); served from the in-process cache. */
  async findForAuthentication(keyId: string): Promise<KeypairDoc | null> {
    if (!isWellFormedKeyId(keyId)) return null;
    return this.#store.findCached(keyId);
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

  /**
   * After src/oauth/federated-auth.ts verified an external OIDC token and
   * trust-rules.ts matched it to the rule `ruleId` of `doc`: the keypair's own
   * rules, as for a key (expired and locked refused and not counted; disabled,
   * owner inactive). A success resets the failure count and notes the rule's use.
   */
  async authenticateWithTrustRule(doc: KeypairDoc, ruleId: string, options: { afterCounting?: boolean } = {}): Promise<AuthenticationResult> {
    const now = this.#clock.now();
    if (isExpired(doc, now)) return { ok: false, reason: 'expired' };
    if (isLocked(doc, now)) return { ok: false, reason: 'locked' };
    if (!options.afterCounting && this.#failures.pending(doc._id)) {
      await this.#failures.counted(doc._id);
      const fresh = await this.findForAuthentication(doc._id);
      if (!fresh) return { ok: false, reason: 'unknown_key' };
      // The rule may have been removed meanwhile: then nothing trusts the token any more.
      if (!fresh.trustRules?.some((rule) => rule.id === ruleId)) return { ok: false, reason: 'bad_assertion' };
      return this.authenticateWithTrustRule(fresh, ruleId, { afterCounting: true });
    }
    if (!doc.enabled) return { ok: false, reason: 'disabled' };
    if (!(await this.#owners.isActive(doc))) return { ok: false, reason: 'owner_inactive' };
    if (hasFailuresToReset(doc)) await this.#recordSuccess(doc._id, now);
    this.#noteTrustRuleUse(doc._id, ruleId, now);
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
    // The day's count rides on the same batch: one more write per key and minute at most, none per request.
    const authenticated = batches.reduce((sum, b) => sum + b.uses, 0);
    if (authenticated) await this.#daily?.add(keyId, now, { authenticated });
    if (!written) return;
    for (const event of events) await this.#audit.record({ actor: 'system', action: event.action, ...keypairTarget(written.after), details: event.details });
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
    if (counted.outcome !== 'not_counted') await this.#daily?.add(doc._id, now, { failed: count });
    if (counted.outcome !== 'locked') return;
    const { write, record } = counted;
    await this.#audit.record({
      actor: 'system',
      action: 'keypair.locked',
      ...keypairTarget(record),
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

  /** Per trust rule: trustRulesLastUsedAt and lastUsedAt at most once a minute, after the response. */
  #noteTrustRuleUse(keyId: string, ruleId: string, now: Date): void {
    const memo = `${keyId} ${ruleId}`;
    const last = this.#lastUsedWrites.get(memo) ?? 0;
    if (now.getTime() - last < LAST_USED_INTERVAL_MS) return;
    this.#lastUsedWrites.set(memo, now.getTime());
    if (this.#lastUsedWrites.size > 100_000) this.#lastUsedWrites.clear();
    setImmediate(() => {
      this.#store.noteTrustRuleUsed(keyId, ruleId, now).catch(() => { /* best effort: a lost write only makes "last used" older */ });
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
}
