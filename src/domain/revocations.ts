// Access tokens revoked before they expire (RFC 7009). Tokens are JWTs that are
// never stored; only the id (jti) of a revoked one is kept, until its expiry.
import type { Models } from '../db/models/index.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { trusted } from 'mongoose';

export class RevocationList {
  readonly #models: Models;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(models: Models, audit: AuditLog, clock: Clock) {
    this.#models = models;
    this.#audit = audit;
    this.#clock = clock;
  }

  async revoke(token: { jti: string; clientId: string; expiresAt: Date; accountId: string | null; environmentId: string | null }, actor: Actor): Promise<void> {
    const result = await this.#models.RevokedToken.updateOne(
      { _id: token.jti },
      { $setOnInsert: { clientId: token.clientId, expiresAt: token.expiresAt } },
      { upsert: true },
    );
    if (result.upsertedCount) {
      await this.#audit.record({ actor, action: 'token.revoked', accountId: token.accountId, environmentId: token.environmentId, keypairId: token.clientId, details: { jti: token.jti } });
    }
    // Expired entries are dead weight: drop a few on each revocation instead of
    // relying on TTL indexes (FerretDB v1 does not expire documents).
    await this.#models.RevokedToken.deleteMany({ expiresAt: trusted({ $lt: this.#clock.now() }) });
  }

  async isRevoked(jti: string): Promise<boolean> {
    return (await this.#models.RevokedToken.exists({ _id: jti })) !== null;
  }
}
