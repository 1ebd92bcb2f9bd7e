// When each token signing key is published, signs, retires and leaves the
// JWKS. The answer is a pure function of the stored keys and the time, so that
// every Keyport process (cluster workers, other hosts) reaches the same one
// without talking to the others; only the steps that change the stored keys
// (nextStep) are written, by whichever process gets there first.
//
// A key's life: created and published as `next`; `current` (signs) from its
// `signFrom`; `retired` once a later key signs, still published so that the
// tokens it signed keep verifying; `removed` from the JWKS when the last of
// them has expired; or `revoked` at any time, gone from the JWKS at once.

/** Cache lifetime of the JWKS response (Cache-Control: max-age). */
export const JWKS_MAX_AGE_SECONDS = 300;

/**
 * A new key is published at least this long before it signs: well beyond the
 * JWKS max-age (twice it, at least), and beyond the verify kit's own cache, so
 * that resource servers which cache the JWKS have the key before the first token
 * signed with it reaches them.
 */
export const PUBLISH_LEAD_MS = Math.max(2 * JWKS_MAX_AGE_SECONDS * 1000, 60 * 60_000);

/** Clocks of Keyport's hosts and of resource servers may differ by this much. */
export const CLOCK_SKEW_MS = 5 * 60_000;

export interface ScheduledKey {
  kid: string;
  /** 1, 2, 3…: the order in which the keys were made. */
  generation: number;
  /** Published from (the key is in the JWKS from its creation). */
  createdAt: Date;
  /** Signs from this time, until a later key signs. */
  signFrom: Date;
  revokedAt: Date | null;
  /** The audit trail already tells when this key took over (set for keys an operator promoted, and the first key). */
  rotationRecorded: boolean;
}

export interface SchedulePolicy {
  /** How long each key signs before the next one takes over. */
  rotationMs: number;
  /** The least time between publishing a key and signing with it. */
  publishLeadMs: number;
  /** How long a retired key stays published: the longest token lifetime plus clock skew. */
  retainMs: number;
}

export function schedulePolicy(options: { rotationDays: number; tokenTtlSeconds: number }): SchedulePolicy {
  return {
    rotationMs: options.rotationDays * 86_400_000,
    publishLeadMs: PUBLISH_LEAD_MS,
    retainMs: options.tokenTtlSeconds * 1000 + CLOCK_SKEW_MS,
  };
}

export type KeyState = 'next' | 'current' | 'retired' | 'removed' | 'revoked';

export interface KeyStatus<K extends ScheduledKey = ScheduledKey> {
  key: K;
  state: KeyState;
  /** When a later key took over (retired and removed keys). */
  retiredAt: Date | null;
  /** When it leaves the JWKS (retired and removed keys). */
  removeAfter: Date | null;
}

/** True when the key has signed tokens by `now` (a key revoked before its turn never did). */
function hasSigned(key: ScheduledKey, now: Date): boolean {
  return key.signFrom <= now && (key.revokedAt === null || key.revokedAt > key.signFrom);
}

/**
 * Every key's state at `now`, in generation order. The signing key is the
 * latest unrevoked key whose signFrom has come; the earlier unrevoked ones are
 * retired, the later ones next.
 */
export function keyStatuses<K extends ScheduledKey>(keys: readonly K[], now: Date, policy: SchedulePolicy): KeyStatus<K>[] {
  const sorted = [...keys].sort((a, b) => a.generation - b.generation);
  const current = sorted.findLast((key) => key.revokedAt === null && key.signFrom <= now);
  return sorted.map((key) => {
    if (key.revokedAt !== null) return { key, state: 'revoked', retiredAt: null, removeAfter: null };
    if (!current || key.generation > current.generation) return { key, state: 'next', retiredAt: null, removeAfter: null };
    if (key === current) return { key, state: 'current', retiredAt: null, removeAfter: null };
    // Retired when the first later key signed (the current key at the latest).
    const successor = sorted.find((later) => later.generation > key.generation && hasSigned(later, now)) ?? current;
    const retiredAt = successor.signFrom;
    const removeAfter = new Date(retiredAt.getTime() + policy.retainMs);
    return { key, state: removeAfter <= now ? 'removed' : 'retired', retiredAt, removeAfter };
  });
}

/** The keys the JWKS publishes: next, current and retired. */
export function isPublished(status: KeyStatus): boolean {
  return status.state === 'next' || status.state === 'current' || status.state === 'retired';
}

export type ScheduleStep =
  /** Make a key; `signFrom` now only when no key can sign (first start, or every key revoked). */
  | { kind: 'create'; generation: number; signFrom: Date }
  /** No key signs: the earliest next key does, from now. */
  | { kind: 'promote'; kid: string; signFrom: Date }
  /** The rotation interval was shortened: the next key signs sooner. */
  | { kind: 'reschedule'; kid: string; signFrom: Date }
  /** The current key took over on schedule: record the rotation in the audit trail. */
  | { kind: 'record-rotation'; kid: string; previousKid: string | null };

/**
 * The earliest a key published at `createdAt` may sign under the schedule that
 * follows `current`: one rotation interval after the current key began, and
 * never before the key has been published for the lead time, nor in the past.
 */
export function scheduledStart(current: ScheduledKey, createdAt: Date, now: Date, policy: SchedulePolicy): Date {
  return new Date(Math.max(current.signFrom.getTime() + policy.rotationMs, createdAt.getTime() + policy.publishLeadMs, now.getTime()));
}

/**
 * What must be written for the stored keys to follow the schedule at `now`, one
 * step at a time (null: nothing). There is always a current key and one next key
 * published ahead of it: a scheduled rotation only moves the time, and the step
 * after it publishes the following key, a whole interval ahead.
 */
export function nextStep(keys: readonly ScheduledKey[], now: Date, policy: SchedulePolicy): ScheduleStep | null {
  const statuses = keyStatuses(keys, now, policy);
  const generation = Math.max(0, ...keys.map((key) => key.generation)) + 1;
  const current = statuses.find((s) => s.state === 'current')?.key;
  const next = statuses.find((s) => s.state === 'next')?.key;
  if (!current) {
    return next ? { kind: 'promote', kid: next.kid, signFrom: now } : { kind: 'create', generation, signFrom: now };
  }
  if (!current.rotationRecorded) {
    const previous = statuses.findLast((s) => s.key.generation < current.generation && hasSigned(s.key, now))?.key;
    return { kind: 'record-rotation', kid: current.kid, previousKid: previous?.kid ?? null };
  }
  if (!next) return { kind: 'create', generation, signFrom: scheduledStart(current, now, now, policy) };
  const due = scheduledStart(current, next.createdAt, now, policy);
  if (next.signFrom > due) return { kind: 'reschedule', kid: next.kid, signFrom: due };
  return null;
}
