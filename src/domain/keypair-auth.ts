// Authentication of keypairs, for the OAuth layer: the secret check (with the
// ended secrets a stale client may still send), the check after a client
// assertion, whether a token may still be honoured, and the per-key queues that
// follow the answers: failure counts toward the lockout (failure-counts.ts) and
// usage per secret and per public key with the keypair's lastUsedAt
// (secret-usage.ts), both written after the answer, never on the token
// endpoint's path. The admin lifecycle (keypairs.ts) waits for these
// queues where it must show or change what they write. No HTTP in here.
import type { KeyportConfig } from '../config.ts';
import type { AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { isWellFormedKeyId, isWellFormedSecret, type SecretHasher } from './credentials.ts';
import { FailureCounts } from './failure-counts.ts';
import { failureWrite, hasFailuresToReset, isLocked } from './lockout.ts';
import { mergeFailureSources, type FailureSource } from './failure-sources.ts';
import type { OwnerService } from './owners.ts';
import { endedSecretHashes, liveSecrets, withUsage, type UsageEvent } from './secrets.ts';
import { SecretUsageCounter, type KeypairUsageBatch } from './secret-usage.ts';
import { isExpired } from './expiry.ts';
import type { DailyUsage } from './daily-usage.ts';
import type { KeypairStore } from '../db/contract.ts';
import { livePublicKeys } from './public-keys.ts';
import { currentTokenGeneration, keypairTarget, type AuthenticationResult, type KeypairDoc } from './keypair-views.ts';

export class KeypairAuthenticator {
  readonly #store: KeypairStore;
  readonly #owners: OwnerService;
  readonly #hasher: SecretHasher;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #lockout: KeyportConfig['lockout'];
  /** Wrong secrets answered and not yet counted (#recordFailure). */
  readonly #failures: FailureCounts<KeypairDoc>;
  /** Usage per secret and per public key counted in memory, written about once a minute with lastUsedAt (secret-usage.ts). */
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
      write: (keyId, doc, count, sources) => this.#countFailures(doc, count, sources),
      onError: (err, what) => this.#reportError(err, what),
    });
    this.#endedRetentionMs = (deps.endedRetentionDays ?? 30) * 86_400_000;
    this.#usage = new SecretUsageCounter({
      write: (keyId, usage) => this.#writeUsage(keyId, usage),
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
      this.#recordFailure(doc, address, now);
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
    this.#usage.used(doc._id, live[matched]!.hash, now);
    return { ok: true, keypair: doc };
  }

  /**
   * After oidc-provider verified a client assertion (signature, iss/sub, aud,
   * exp, the alg against the key) with the public key `thumbprint` of `doc`:
   * the keypair's own rules, as for a secret. A key past its grace period is a
   * failure and counts toward lockout; a locked or expired keypair is refused and not counted.
   */
  async authenticateWithKey(doc: KeypairDoc, thumbprint: string, options: { afterCounting?: boolean; address?: () => string } = {}): Promise<AuthenticationResult> {
    const now = this.#clock.now();
    const live = livePublicKeys(doc.publicKeys, now).some((key) => key.thumbprint === thumbprint);
    // An expired keypair: refused whatever authenticates it, and not counted (as for a secret).
    if (isExpired(doc, now)) return { ok: false, reason: 'expired' };
    if (isLocked(doc, now)) return { ok: false, reason: 'locked' };
    if (!live) {
      this.#recordFailure(doc, options.address, now);
      return { ok: false, reason: 'retired_key' };
    }
    if (!options.afterCounting && this.#failures.pending(doc._id)) {
      await this.#failures.counted(doc._id);
      const fresh = await this.findForAuthentication(doc._id);
      if (!fresh) return { ok: false, reason: 'unknown_key' };
      return this.authenticateWithKey(fresh, thumbprint, { afterCounting: true, address: options.address });
    }
    if (!doc.enabled) return { ok: false, reason: 'disabled' };
    if (!(await this.#owners.isActive(doc))) return { ok: false, reason: 'owner_inactive' };
    if (hasFailuresToReset(doc)) await this.#recordSuccess(doc._id, now);
    this.#usage.keyUsed(doc._id, thumbprint, now);
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
    this.#usage.ruleUsed(doc._id, ruleId, now);
    return { ok: true, keypair: doc };
  }

  /** A client assertion of this keypair that failed its checks: counted toward lockout like a wrong secret (not while locked). */
  assertionFailed(doc: KeypairDoc, address?: () => string): void {
    const now = this.#clock.now();
    if (!isLocked(doc, now)) this.#recordFailure(doc, address, now);
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
   * failure-counts.ts. The source address (read only on this path) is kept
   * with the count, as the keypair's recent failure sources.
   */
  #recordFailure(doc: KeypairDoc, address: (() => string) | undefined, now: Date): void {
    const from = address?.();
    this.#failures.add(doc._id, doc, from ? { address: from, at: now } : undefined);
  }

  /**
   * Settles once every wrong secret recorded so far (of `keyId`, or of any key)
   * is counted: admin reads show the count and lock that those answers imply,
   * and close() loses none of them.
   */
  failuresCounted(keyId?: string): Promise<void> {
    return this.#failures.counted(keyId);
  }

  /** Settles once the usage counted so far in this process is written (of `keyId`, or of every key). */
  usageRecorded(keyId?: string): Promise<void> {
    return this.#usage.flush(keyId);
  }

  /** At shutdown: writes the usage still counted in memory and stops its timer. */
  close(): Promise<void> {
    return this.#usage.close();
  }

  /**
   * Writes one key's counted usage as one update of the keypair (secrets.ts,
   * withUsage, merges it by secret; the last uses of its public keys and of
   * the keypair ride along), built from the cached record so that it costs no
   * read; adds the day's successful authentications, by secret or by key; then
   * audits what is due: a previous secret used during its grace period, an
   * ended secret presented, each at most once a day per secret, by `system`.
   */
  async #writeUsage(keyId: string, usage: KeypairUsageBatch): Promise<void> {
    const now = this.#clock.now();
    let events: UsageEvent[] = [];
    const uses = [...usage.secrets.map((b) => b.lastUsedAt), ...usage.keys.map((k) => k.lastUsedAt), ...usage.rules.map((r) => r.lastUsedAt)];
    const lastUsedAt = uses.reduce<Date | null>((last, at) => (at && (!last || at > last) ? at : last), null);
    const written = await this.#store.recordSecretUsage(keyId, (current) => {
      const next = withUsage(current, usage.secrets, now, this.#endedRetentionMs);
      events = next.events;
      // A key removed since its use gets no entry back.
      const keysLastUsedAt = Object.fromEntries(usage.keys.filter((k) => current.publicKeys?.some((p) => p.thumbprint === k.thumbprint)).map((k) => [k.thumbprint, k.lastUsedAt]));
      const trustRulesLastUsedAt = Object.fromEntries(usage.rules.filter((r) => current.trustRules?.some((rule) => rule.id === r.ruleId)).map((r) => [r.ruleId, r.lastUsedAt]));
      return { secrets: next.secrets, endedSecrets: next.endedSecrets, lastUsedAt, keysLastUsedAt, trustRulesLastUsedAt };
    }, { cached: await this.#store.findCached(keyId) });
    // The day's count rides on the same batch: one more write per key and minute at most, none per request.
    const authenticated = [...usage.secrets, ...usage.keys, ...usage.rules].reduce((sum, batch) => sum + batch.uses, 0);
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
  async #countFailures(doc: KeypairDoc, count: number, sources: FailureSource[]): Promise<void> {
    const now = this.#clock.now();
    // The record as this process last wrote it (the cache keeps it, or reads it
    // again after a publish), not the one the batch's first failure was checked
    // against: that may predate the previous count, whose sources a merge into
    // it would drop. The counters' conditions hold either way.
    const current = (await this.#store.findCached(doc._id)) ?? doc;
    const counted = await this.#store.countFailures(doc._id, current, (seen) => {
      const write = failureWrite(seen, this.#lockout, now, count);
      // The sources go in the count's own update, merged into those it read (failure-sources.ts).
      return write && sources.length ? { ...write, failureSources: mergeFailureSources(seen.failureSources, sources, now) } : write;
    });
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
}
