// Keypair expiry: the rules for an expiry date (future, within the account's
// maximum lifetime), the check the token endpoint makes (a date comparison on
// the cached record, nothing more), and the sweep that records keypair.expiring
// and keypair.expired in the audit trail, once per keypair and expiry date.
import type { ExpiryNotice, KeypairRecord, KeypairStore } from '../db/contract.ts';
import type { AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { invalidInput } from './errors.ts';
import type { RevocationFeed } from './revocation-feed.ts';

const DAY_MS = 86_400_000;
/** "Expiring soon": expiring within this many days (the list filter, the badge, keypair.expiring). */
export const EXPIRING_WINDOW_DAYS = 14;
export const EXPIRING_WINDOW_MS = EXPIRING_WINDOW_DAYS * DAY_MS;
/** The largest maximum lifetime an account may set (ten years). */
export const MAX_KEYPAIR_LIFETIME_DAYS = 3650;

/** True when the keypair has expired at `now`; records from before expiry have no expiresAt. */
export function isExpired(doc: Pick<KeypairRecord, 'expiresAt'>, now: Date): boolean {
  return doc.expiresAt != null && doc.expiresAt.getTime() <= now.getTime();
}

/** True when the keypair expires after `now` and within the expiring window. */
export function isExpiringSoon(doc: Pick<KeypairRecord, 'expiresAt'>, now: Date): boolean {
  if (doc.expiresAt == null) return false;
  const left = doc.expiresAt.getTime() - now.getTime();
  return left > 0 && left <= EXPIRING_WINDOW_MS;
}

/**
 * The expiry date a keypair gets, created or edited at `now`, from what the
 * administrator asked (`requested`: a date, null for "never", undefined for
 * "not said") and the account's maximum lifetime in days (null: none).
 * Unsaid, a new keypair gets now + the maximum (or no expiry). Refused: a date
 * not in the future, a date beyond now + the maximum, and "never" under a maximum.
 */
export function resolveExpiry(requested: Date | null | undefined, maxLifetimeDays: number | null, now: Date): Date | null {
  const latest = maxLifetimeDays === null ? null : new Date(now.getTime() + maxLifetimeDays * DAY_MS);
  if (requested === undefined) return latest;
  if (requested === null) {
    if (latest) throw invalidInput(`this account's keypairs must expire within ${maxLifetimeDays} days: expiresAt cannot be null`, { maxKeypairLifetimeDays: maxLifetimeDays });
    return null;
  }
  if (!(requested instanceof Date) || Number.isNaN(requested.getTime())) throw invalidInput('expiresAt must be a date and time');
  if (requested.getTime() <= now.getTime()) throw invalidInput('expiresAt must be in the future');
  if (latest && requested.getTime() > latest.getTime()) {
    throw invalidInput(`expiresAt must be at most ${maxLifetimeDays} days from now (the account's maximum keypair lifetime), i.e. not after ${latest.toISOString()}`, { maxKeypairLifetimeDays: maxLifetimeDays, latest: latest.toISOString() });
  }
  return requested;
}

/** The account's maximum lifetime as given (a whole number of days, or null for none). */
export function validMaxLifetime(days: unknown): number | null {
  if (days === null) return null;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_KEYPAIR_LIFETIME_DAYS) {
    throw invalidInput(`maxKeypairLifetimeDays must be a whole number of days from 1 to ${MAX_KEYPAIR_LIFETIME_DAYS}, or null for no limit`);
  }
  return days;
}

const BATCH = 200;

/**
 * Records keypair.expiring (a keypair entered the expiring window) and
 * keypair.expired, each once per keypair and expiry date. Every server process
 * runs it: each notice is claimed by one conditional update
 * (KeypairStore.markExpiryNotice), so that of several processes sweeping at once
 * exactly one records it. Changing a keypair's expiry date starts its notices over.
 *
 * An expiry also ends the tokens issued before it, as a disable does: the
 * keypair's token generation advances (so that its earlier tokens stay dead if
 * a new expiry date revives it) and the revocation feed tells offline
 * validators, within a sweep of the expiry.
 */
export class ExpirySweep {
  readonly #store: KeypairStore;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #revocationFeed: RevocationFeed | undefined;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<{ expiring: number; expired: number }> | null = null;

  constructor(deps: { store: KeypairStore; audit: AuditLog; clock: Clock; revocationFeed?: RevocationFeed }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#revocationFeed = deps.revocationFeed;
  }

  /** Sweeps every `intervalMs` until stop(); `onError` hears of a sweep that failed (the next one tries again). */
  start(intervalMs: number, onError: (err: unknown) => void): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.sweep().catch(onError), intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress (so that it does not outlive the database connection). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => { /* reported by the timer's onError */ });
  }

  /** One sweep now (one at a time in this process); returns how many notices this process recorded. */
  sweep(): Promise<{ expiring: number; expired: number }> {
    this.#running ??= this.#sweep().finally(() => { this.#running = null; });
    return this.#running;
  }

  async #sweep(): Promise<{ expiring: number; expired: number }> {
    // Expired first: a keypair that expired since the last sweep gets keypair.expired, not a late warning.
    const expired = await this.#notices('expired');
    const expiring = await this.#notices('expiring');
    return { expiring, expired };
  }

  async #notices(notice: ExpiryNotice): Promise<number> {
    let recorded = 0;
    for (;;) {
      const now = this.#clock.now();
      const horizon = new Date(now.getTime() + EXPIRING_WINDOW_MS);
      const due = await this.#store.expiryNoticesDue(notice, now, horizon, BATCH);
      for (const keyId of due) {
        const doc = await this.#store.markExpiryNotice(keyId, notice, now, horizon);
        if (!doc) continue; // another process recorded it, or the expiry date changed meanwhile
        recorded++;
        if (notice === 'expired') await this.#endTokens(doc._id, now);
        await this.#audit.record({
          actor: 'system',
          action: `keypair.${notice}`,
          accountId: doc.accountId,
          environmentId: doc.environmentId,
          keypairId: doc._id,
          details: { name: doc.name, expiresAt: doc.expiresAt?.toISOString() ?? null },
        });
      }
      if (due.length < BATCH) return recorded;
    }
  }

  /** The tokens issued before the expiry: a new generation, and the feed's entry for offline validators. */
  async #endTokens(keyId: string, now: Date): Promise<void> {
    const after = await this.#store.change(keyId, { tokensRevokedAt: now, updatedAt: now }, { advanceTokenGeneration: true });
    if (after) await this.#revocationFeed?.keypairTokensBelow(keyId, after.tokenGeneration ?? 0);
  }
}
