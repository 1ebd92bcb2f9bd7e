// Single use of client assertions (RFC 7523 §3: a jti is accepted once): the
// check is one atomic insert in the database, so that every process and worker
// shares it. Expired ids are swept now and then (FerretDB v1 has no TTL indexes).
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

  /** True the first time `id` is seen before `expiresAt`; false for a replay. */
  async firstUse(id: string, expiresAt: Date): Promise<boolean> {
    const now = this.#clock.now();
    const first = await this.#store.claim(id, expiresAt, now);
    if (now.getTime() - this.#lastSweep > SWEEP_EVERY_MS) {
      this.#lastSweep = now.getTime();
      // After the answer: sweeping is housekeeping, not part of the check.
      setImmediate(() => void this.#store.deleteExpired(this.#clock.now()).catch(() => { /* retried at the next sweep */ }));
    }
    return first;
  }
}
