// A keypair's usage per UTC day, for the 30-day chart on its page, in the API
// and the CLI: successful authentications and counted failures. Added to by the
// writes that already batch them (the per-secret usage, about once a minute per
// key; the failure counts), never by a write per request. Kept 90 days.
import type { KeypairUsageStore } from '../db/contract.ts';
import type { Clock } from './clock.ts';

export const USAGE_RETENTION_DAYS = 90;
export const USAGE_CHART_DAYS = 30;
const DAY_MS = 86_400_000;

/** Midnight UTC of the day `at` falls on. */
export function startOfDay(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}

/** The `count` days up to and including the one `now` falls on, oldest first (midnights UTC). */
export function lastDays(now: Date, count: number): Date[] {
  const today = startOfDay(now).getTime();
  return Array.from({ length: count }, (_, i) => new Date(today - (count - 1 - i) * DAY_MS));
}

export interface UsageDayView {
  /** YYYY-MM-DD (UTC). */
  day: string;
  authenticated: number;
  failed: number;
}

export class DailyUsage {
  readonly #store: KeypairUsageStore;
  readonly #clock: Clock;
  #sweptAt = 0;

  constructor(deps: { store: KeypairUsageStore; clock: Clock }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /** Adds a batch's counts to the day of `at`; now and then (once a day per process) drops days past the retention. */
  async add(keyId: string, at: Date, counts: { authenticated?: number; failed?: number }): Promise<void> {
    await this.#store.add(keyId, startOfDay(at), counts);
    if (at.getTime() - this.#sweptAt >= DAY_MS) {
      this.#sweptAt = at.getTime();
      this.#store.deleteBefore(new Date(startOfDay(at).getTime() - USAGE_RETENTION_DAYS * DAY_MS)).catch(() => { /* only space: the next sweep retries */ });
    }
  }

  /** The last `days` days (at most the retention), oldest first, zero where nothing happened. */
  async series(keyId: string, days = USAGE_CHART_DAYS): Promise<UsageDayView[]> {
    const wanted = lastDays(this.#clock.now(), Math.min(Math.max(1, Math.floor(days)), USAGE_RETENTION_DAYS));
    const counts = await this.#store.days(keyId, wanted);
    return counts.map((c) => ({ day: c.day.toISOString().slice(0, 10), authenticated: c.authenticated, failed: c.failed }));
  }
}
