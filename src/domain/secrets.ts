// A keypair's stored secrets as plain data: which of them authenticate now,
// and what a rotation does to the list (docs/architecture.md, Rotation and
// regeneration). Hashing and comparing are in credentials.ts.

import type { StoredSecret } from '../db/contract.ts';

export type { StoredSecret } from '../db/contract.ts';

/** Secrets that authenticate at `now`: the current one, and a previous one still inside its grace period. */
export function liveSecrets<S extends StoredSecret>(record: { secrets: S[] }, now: Date): S[] {
  return record.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now);
}

/**
 * The secret list after a rotation to the secret hashed as `hash` at `now`.
 * With no grace (`graceMs` 0, a regeneration) or no current secret: the new
 * secret alone. Otherwise the new secret, then the old current one ending at
 * now + grace; a previous secret still in its grace period is dropped (it
 * stops at once: never more than two secrets). `endedEarlierPrevious` says
 * whether that happened, so that the surfaces can warn.
 */
export function rotatedSecrets(secrets: StoredSecret[], hash: string, now: Date, graceMs: number): { secrets: StoredSecret[]; endedEarlierPrevious: boolean } {
  const current = secrets.find((s) => s.expiresAt === null);
  const fresh: StoredSecret = { hash, createdAt: now, expiresAt: null };
  return {
    secrets: graceMs === 0 || !current ? [fresh] : [fresh, { ...current, expiresAt: new Date(now.getTime() + graceMs) }],
    endedEarlierPrevious: secrets.some((s) => s.expiresAt !== null && s.expiresAt > now),
  };
}
