// Access tokens revoked before they expire (RFC 7009). Tokens are JWTs that are
// never stored; only the id (jti) of a revoked one is kept, until its expiry.
//
// Introspection asks about every token, and revocations are few: each process
// keeps the whole list in memory, so that introspection reads no database. A
// revocation counts at once in the process that made it and, through the change
// feed, within a poll (250 ms) in every other one, like a disable (docs/architecture.md, The change feed).
// The list is read again from the database every minute as a safety net (a poll
// that failed for longer than the feed's window).
import type { Actor, AuditLog } from './audit.ts';
import type { ChangeFeed, RevocationStore } from '../db/contract.ts';
import type { Clock } from './clock.ts';

const RELOAD_MS = 60_000;

export class RevocationList {
  readonly #store: RevocationStore;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #changes: ChangeFeed;
  /** A revoked jti only learned from the feed is kept this long (the longest a token can live). */
  readonly #maxTokenLifetimeMs: number;
  /** jti → when its token expires (ms). Revocations are never undone, so this only grows until expiry. */
  readonly #revoked = new Map<string, number>();
  #loading: Promise<void> | null = null;
  #loadedAt = -Infinity;

  constructor(deps: { store: RevocationStore; audit: AuditLog; clock: Clock; changes: ChangeFeed; maxTokenLifetimeMs: number }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#changes = deps.changes;
    this.#maxTokenLifetimeMs = deps.maxTokenLifetimeMs;
    this.#changes.onChange((kind, jti) => {
      if (kind === 'revocation' && !this.#revoked.has(jti)) this.#revoked.set(jti, this.#clock.now().getTime() + this.#maxTokenLifetimeMs);
    });
  }

  async revoke(token: { jti: string; clientId: string; expiresAt: Date; accountId: string | null; environmentId: string | null }, actor: Actor): Promise<void> {
    const recorded = await this.#store.add({ jti: token.jti, clientId: token.clientId, expiresAt: token.expiresAt });
    this.#revoked.set(token.jti, token.expiresAt.getTime());
    await this.#changes.publish('revocation', token.jti);
    if (recorded) {
      await this.#audit.record({ actor, action: 'token.revoked', accountId: token.accountId, environmentId: token.environmentId, keypairId: token.clientId, details: { jti: token.jti } });
    }
    // Expired entries are dead weight: drop a few on each revocation instead of
    // relying on TTL indexes (FerretDB v1 does not expire documents).
    await this.#store.deleteExpired(this.#clock.now());
  }

  async isRevoked(jti: string): Promise<boolean> {
    const stale = Date.now() - this.#loadedAt > RELOAD_MS;
    if (this.#loadedAt === -Infinity) await this.#load(); // the first question waits for the list
    else if (stale) void this.#load().catch(() => { /* keep answering from memory; retried on the next question */ });
    return this.#revoked.has(jti);
  }

  /** Reads the unexpired revocations, adds them to the list and drops the expired ones. */
  #load(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        const now = this.#clock.now();
        for (const { jti, expiresAt } of await this.#store.unexpired(now)) this.#revoked.set(jti, expiresAt.getTime());
        for (const [jti, expiresAt] of this.#revoked) if (expiresAt <= now.getTime()) this.#revoked.delete(jti);
        this.#loadedAt = Date.now();
      } finally {
        this.#loading = null;
      }
    })();
    return this.#loading;
  }
}
