// The lockout rules as plain functions over a keypair's counters: whether a key
// is locked, and what counting a batch of wrong secrets writes (docs/architecture.md,
// Lockout). The store applies the answer as one conditional update
// (KeypairStore.countFailures); nothing here reads or writes a database.

/** The counters a keypair keeps for its lockout. */
export interface LockoutCounters {
  /** Consecutive wrong secrets since the last success (not counted while locked). */
  failedAttempts: number;
  /** failedAttempts when the last lock was set: the next lock comes maxFailures later. */
  failuresAtLastLock: number;
  /** Temporary locks since the last success; each lasts twice as long as the one before. */
  temporaryLocks: number;
  lockedUntil: Date | null;
  lockedPermanently: boolean;
}

export interface LockoutPolicy {
  mode: 'temporary' | 'permanent';
  maxFailures: number;
  durationSeconds: number;
  maxTemporaryLocks: number;
}

/**
 * What counting a batch of wrong secrets writes, given the counters it saw.
 * Either way the write applies only while the key is unlocked at `now`, so that
 * a failure never extends a lock.
 *
 * - `increment`: add `by` to failedAttempts, on condition that failuresAtLastLock
 *   is still `failuresAtLastLock` and failedAttempts is below `failedAttemptsBelow`
 *   (so that the increment cannot reach the threshold, whatever others counted);
 * - `lock`: the batch reaches the threshold: on condition that the counters are
 *   exactly `expected`, set failedAttempts and failuresAtLastLock to
 *   `failedAttempts` and lock, permanently or until `lockedUntil` (then one more
 *   temporary lock). Exactly one such write can match, so a key locks once per run.
 */
export type FailureWrite =
  | { kind: 'increment'; now: Date; by: number; failuresAtLastLock: number; failedAttemptsBelow: number }
  | {
    kind: 'lock';
    now: Date;
    expected: Pick<LockoutCounters, 'failedAttempts' | 'failuresAtLastLock' | 'temporaryLocks'>;
    failedAttempts: number;
    permanent: boolean;
    /** The end of a temporary lock; null for a permanent one. */
    lockedUntil: Date | null;
  };

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

/**
 * True when an increment of `by` began a run of failures (the counters after it
 * show no earlier failure since the last lock): a cached copy elsewhere may still
 * say "no failures", and a success there must know to reset the count.
 */
export function beganRun(after: Pick<LockoutCounters, 'failedAttempts' | 'failuresAtLastLock'>, by: number): boolean {
  return after.failedAttempts - after.failuresAtLastLock <= by;
}

/** True when a success has counters to reset (a lock in force stays; see KeypairStore.resetFailures). */
export function hasFailuresToReset(counters: Pick<LockoutCounters, 'failedAttempts' | 'temporaryLocks'>): boolean {
  return counters.failedAttempts > 0 || counters.temporaryLocks > 0;
}

/** The counters after an unlock or a regeneration: no lock, no failures. */
export function unlockedCounters(): LockoutCounters {
  return { failedAttempts: 0, failuresAtLastLock: 0, temporaryLocks: 0, lockedUntil: null, lockedPermanently: false };
}
