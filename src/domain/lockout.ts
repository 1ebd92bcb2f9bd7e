// The lockout rules as plain functions over a keypair's counters: whether a key
// is locked, and what counting a batch of wrong secrets writes (docs/architecture.md,
// Lockout). The store applies the answer as one conditional update
// (KeypairStore.countFailures); nothing here reads or writes a database.
import type { FailureWrite, LockoutCounters } from '../db/contract.ts';

export type { FailureWrite, LockoutCounters } from '../db/contract.ts';

export interface LockoutPolicy {
  mode: 'temporary' | 'permanent';
  maxFailures: number;
  durationSeconds: number;
  maxTemporaryLocks: number;
}

export function isLocked(counters: Pick<LockoutCounters, 'lockedPermanently' | 'lockedUntil'>, now: Date): boolean {
  return counters.lockedPermanently || (counters.lockedUntil !== null && counters.lockedUntil > now);
}

/**
 * What to write to count `count` wrong secrets as if they had come one after
 * another, given the counters `seen`; null when the key is locked (nothing is
 * counted). Failures of a batch beyond the threshold are not counted: they
 * arrived on a key that is locked by then.
 */
export function failureWrite(seen: LockoutCounters, policy: LockoutPolicy, now: Date, count: number): FailureWrite | null {
  if (isLocked(seen, now)) return null;
  const lastLock = seen.failuresAtLastLock;
  // How many more failures this run takes; the last of them locks the key.
  const untilLock = Math.max(lastLock + policy.maxFailures - seen.failedAttempts, 1);
  if (count < untilLock) {
    return { kind: 'increment', now, by: count, failuresAtLastLock: lastLock, failedAttemptsBelow: lastLock + policy.maxFailures - count };
  }
  // In temporary mode the n-th lock lasts durationSeconds × 2^(n-1); past maxTemporaryLocks, or in permanent mode, it is permanent.
  const permanent = policy.mode === 'permanent' || seen.temporaryLocks >= policy.maxTemporaryLocks;
  return {
    kind: 'lock',
    now,
    expected: { failedAttempts: seen.failedAttempts, failuresAtLastLock: lastLock, temporaryLocks: seen.temporaryLocks },
    failedAttempts: seen.failedAttempts + untilLock,
    permanent,
    lockedUntil: permanent ? null : new Date(now.getTime() + policy.durationSeconds * 1000 * 2 ** seen.temporaryLocks),
  };
}

/** True when a success has counters to reset (a lock in force stays; see KeypairStore.resetFailures). */
export function hasFailuresToReset(counters: Pick<LockoutCounters, 'failedAttempts' | 'temporaryLocks'>): boolean {
  return counters.failedAttempts > 0 || counters.temporaryLocks > 0;
}

/** The counters after an unlock or a regeneration: no lock, no failures. */
export function unlockedCounters(): LockoutCounters {
  return { failedAttempts: 0, failuresAtLastLock: 0, temporaryLocks: 0, lockedUntil: null, lockedPermanently: false };
}
