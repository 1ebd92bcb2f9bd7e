// The lockout rules as plain functions (src/domain/lockout.ts): no server, no database.
import test from 'ava';
import { beganRun } from '../../src/db/contract.ts';
import { failureWrite, hasFailuresToReset, isLocked, unlockedCounters, type LockoutCounters, type LockoutPolicy } from '../../src/domain/lockout.ts';

const now = new Date('2030-01-01T00:00:00Z');
const temporary: LockoutPolicy = { mode: 'temporary', maxFailures: 10, durationSeconds: 60, maxTemporaryLocks: 3 };
const permanent: LockoutPolicy = { ...temporary, mode: 'permanent' };
const fresh = (): LockoutCounters => unlockedCounters();
const at = (ms: number) => new Date(now.getTime() + ms);

test('isLocked: a permanent lock, or a temporary one until its end (exclusive)', (t) => {
  t.false(isLocked(fresh(), now));
  t.true(isLocked({ lockedPermanently: true, lockedUntil: null }, now));
  t.true(isLocked({ lockedPermanently: false, lockedUntil: at(1) }, now));
  t.false(isLocked({ lockedPermanently: false, lockedUntil: now }, now), 'a lock ends at its end time');
  t.false(isLocked({ lockedPermanently: false, lockedUntil: at(-1) }, now));
});

test('below the threshold a batch is an increment that cannot reach it', (t) => {
  t.deepEqual(failureWrite(fresh(), temporary, now, 1), { kind: 'increment', now, by: 1, failuresAtLastLock: 0, failedAttemptsBelow: 9 });
  t.deepEqual(failureWrite({ ...fresh(), failedAttempts: 5 }, temporary, now, 4), { kind: 'increment', now, by: 4, failuresAtLastLock: 0, failedAttemptsBelow: 6 });
  // After a temporary lock, the next run counts from failuresAtLastLock.
  t.deepEqual(failureWrite({ ...fresh(), failedAttempts: 12, failuresAtLastLock: 10, temporaryLocks: 1 }, temporary, now, 3), { kind: 'increment', now, by: 3, failuresAtLastLock: 10, failedAttemptsBelow: 17 });
});

test('the batch that reaches the threshold locks, on the exact counters it saw; failures beyond it are not counted', (t) => {
  const seen = { ...fresh(), failedAttempts: 9 };
  t.deepEqual(failureWrite(seen, temporary, now, 1), {
    kind: 'lock', now, expected: { failedAttempts: 9, failuresAtLastLock: 0, temporaryLocks: 0 }, failedAttempts: 10, permanent: false, lockedUntil: at(60_000),
  });
  const flood = failureWrite(fresh(), temporary, now, 25);
  t.is(flood?.kind, 'lock');
  t.is(flood?.kind === 'lock' ? flood.failedAttempts : null, 10, 'the lock counts the threshold, not the whole batch');
});

test('temporary locks double, and the lock after maxTemporaryLocks is permanent', (t) => {
  const lockAfter = (temporaryLocks: number) => failureWrite({ failedAttempts: 10 * temporaryLocks + 9, failuresAtLastLock: 10 * temporaryLocks, temporaryLocks, lockedUntil: at(-1), lockedPermanently: false }, temporary, now, 1);
  t.deepEqual([0, 1, 2].map((n) => { const w = lockAfter(n); return w?.kind === 'lock' ? w.lockedUntil : undefined; }), [at(60_000), at(120_000), at(240_000)]);
  const fourth = lockAfter(3);
  t.true(fourth?.kind === 'lock' && fourth.permanent && fourth.lockedUntil === null);
});

test('in permanent mode the first lock is permanent', (t) => {
  const write = failureWrite({ ...fresh(), failedAttempts: 9 }, permanent, now, 1);
  t.true(write?.kind === 'lock' && write.permanent && write.lockedUntil === null);
});

test('a locked key counts nothing (a failure never extends a lock)', (t) => {
  t.is(failureWrite({ ...fresh(), failedAttempts: 10, failuresAtLastLock: 10, temporaryLocks: 1, lockedUntil: at(1) }, temporary, now, 5), null);
  t.is(failureWrite({ ...fresh(), lockedPermanently: true }, temporary, now, 1), null);
});

test('a stale count past the threshold still locks after one more failure', (t) => {
  // Counters already at or past the threshold (a lost race): the next failure locks.
  const write = failureWrite({ ...fresh(), failedAttempts: 11 }, temporary, now, 1);
  t.true(write?.kind === 'lock' && write.failedAttempts === 12);
});

test('beganRun: an increment that started a run of failures since the last lock', (t) => {
  t.true(beganRun({ failedAttempts: 3, failuresAtLastLock: 0 }, 3));
  t.false(beganRun({ failedAttempts: 4, failuresAtLastLock: 0 }, 3));
  t.true(beganRun({ failedAttempts: 11, failuresAtLastLock: 10 }, 1));
});

test('a success resets only when there is something to reset', (t) => {
  t.false(hasFailuresToReset(fresh()));
  t.true(hasFailuresToReset({ failedAttempts: 1, temporaryLocks: 0 }));
  t.true(hasFailuresToReset({ failedAttempts: 0, temporaryLocks: 1 }));
});
