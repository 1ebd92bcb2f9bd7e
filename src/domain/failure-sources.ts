// Where a keypair's recent failures came from: the source addresses of counted
// wrong secrets (and failed assertions), for its admins to tell a misconfigured
// client from a guesser. Short-lived and bounded on purpose: the last
// FAILURE_SOURCES_MAX distinct addresses, each dropped FAILURE_SOURCES_KEPT_MS
// after its last failure. Written by the failure count's own update (the
// lockout writer, keypair-auth.ts), never by a write of its own. Pure functions.
import type { FailureSource } from '../db/contract.ts';

export type { FailureSource } from '../db/contract.ts';

/** Distinct addresses kept per keypair (and per batch of failures waiting to be counted). */
export const FAILURE_SOURCES_MAX = 10;
/** How long an address is kept after its last failure. */
export const FAILURE_SOURCES_KEPT_MS = 24 * 3_600_000;

/** What the surfaces show: the kept sources at `now`, newest first. */
export interface FailureSourceView {
  address: string;
  count: number;
  lastSeenAt: string;
}

/**
 * The failures of one batch, by address, as they arrive (before they are
 * counted): bounded like the stored list, so that a flood from many addresses
 * costs a fixed amount of memory; the addresses seen longest ago go first.
 */
export class FailureSourceTally {
  readonly #byAddress = new Map<string, { count: number; lastSeenAt: Date }>();

  add(address: string, at: Date): void {
    if (!address) return;
    const seen = this.#byAddress.get(address);
    // Re-inserted, so that the Map's order is the order of last failure.
    this.#byAddress.delete(address);
    this.#byAddress.set(address, { count: (seen?.count ?? 0) + 1, lastSeenAt: at });
    if (this.#byAddress.size > FAILURE_SOURCES_MAX) this.#byAddress.delete(this.#byAddress.keys().next().value!);
  }

  get size(): number {
    return this.#byAddress.size;
  }

  sources(): FailureSource[] {
    return [...this.#byAddress].map(([address, { count, lastSeenAt }]) => ({ address, count, lastSeenAt }));
  }
}

/** The sources kept at `now`: those seen within FAILURE_SOURCES_KEPT_MS, newest first. */
export function keptFailureSources(stored: readonly FailureSource[] | undefined, now: Date): FailureSource[] {
  const since = now.getTime() - FAILURE_SOURCES_KEPT_MS;
  return (stored ?? [])
    .filter((s) => s.lastSeenAt.getTime() > since)
    .sort((a, b) => b.lastSeenAt.getTime() - a.lastSeenAt.getTime())
    .slice(0, FAILURE_SOURCES_MAX);
}

/** The stored list after a batch: counts added per address, old ones dropped, the newest FAILURE_SOURCES_MAX kept. */
export function mergeFailureSources(stored: readonly FailureSource[] | undefined, batch: readonly FailureSource[], now: Date): FailureSource[] {
  const merged = new Map<string, FailureSource>();
  for (const s of keptFailureSources(stored, now)) merged.set(s.address, { ...s });
  for (const s of batch) {
    const known = merged.get(s.address);
    merged.set(s.address, known
      ? { address: s.address, count: known.count + s.count, lastSeenAt: known.lastSeenAt > s.lastSeenAt ? known.lastSeenAt : s.lastSeenAt }
      : { ...s });
  }
  return keptFailureSources([...merged.values()], now);
}

export function failureSourceViews(stored: readonly FailureSource[] | undefined, now: Date): FailureSourceView[] {
  return keptFailureSources(stored, now).map((s) => ({ address: s.address, count: s.count, lastSeenAt: s.lastSeenAt.toISOString() }));
}
