// Single use, shared by every process: a client assertion's jti (RFC 7523 §3)
// and a DPoP proof (RFC 9449 §11.1) are each accepted once. The check is one
// atomic insert in the database, so that every process and worker shares it.
// Expired ids are swept now and then (FerretDB v1 has no TTL indexes).
import type { ReplayStore } from '../db/contract.ts';
import type { Clock } from './clock.ts';

const SWEEP_EVERY_MS = 60_000;

export class ReplayGuard {
  readonly #store: ReplayStore;
  readonly #clock: Clock;
  #lastSweep = 0;

  constructor(store: ReplayStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /**
   * True the first time `id` is seen before `expiresAt`; false for a replay.
   * `now` where the caller judges expiry by another clock than the domain's
   * (oidc-provider judges a DPoP proof's iat by the real one).
   */
  async firstUse(id: string, expiresAt: Date, now: Date = this.#clock.now()): Promise<boolean> {
    const first = await this.#store.claim(id, expiresAt, now);
    if (now.getTime() - this.#lastSweep > SWEEP_EVERY_MS) {
      this.#lastSweep = now.getTime();
      // After the answer: sweeping is housekeeping, not part of the check.
      setImmediate(() => void this.#store.deleteExpired(now).catch(() => { /* retried at the next sweep */ }));
    }
    return first;
  }
}
