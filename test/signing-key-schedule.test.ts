// The signing key schedule as a pure function of the stored keys and the time
// (no server): which key signs, which are published, and what must be written.
import test from 'ava';
import { isPublished, keyStatuses, nextStep, PUBLISH_LEAD_MS, schedulePolicy, type ScheduledKey } from '../src/domain/signing-key-schedule.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const policy = schedulePolicy({ rotationDays: 90, tokenTtlSeconds: 600 });
const T0 = new Date('2026-01-01T00:00:00Z').getTime();
const at = (ms: number) => new Date(T0 + ms);

function key(generation: number, createdAt: number, signFrom: number, extra: Partial<ScheduledKey> = {}): ScheduledKey {
  return { kid: `k${generation}`, generation, createdAt: at(createdAt), signFrom: at(signFrom), revokedAt: null, rotationRecorded: true, ...extra };
}

function states(keys: ScheduledKey[], now: number): Record<string, string> {
  return Object.fromEntries(keyStatuses(keys, at(now), policy).map((s) => [s.key.kid, s.state]));
}

test('policy: 90 days by default; retired keys stay for the token lifetime plus 5 minutes of clock skew; the lead covers the JWKS max-age twice', (t) => {
  t.is(policy.rotationMs, 90 * DAY);
  t.is(policy.retainMs, 600_000 + 5 * 60_000);
  t.true(PUBLISH_LEAD_MS >= 2 * 300_000);
  t.is(policy.publishLeadMs, PUBLISH_LEAD_MS);
});

test('an empty store: the first key signs at once, then the next one is published a whole interval ahead', (t) => {
  t.deepEqual(nextStep([], at(0), policy), { kind: 'create', generation: 1, signFrom: at(0) });
  const first = key(1, 0, 0);
  t.deepEqual(nextStep([first], at(0), policy), { kind: 'create', generation: 2, signFrom: at(90 * DAY) });
  const keys = [first, key(2, 0, 90 * DAY, { rotationRecorded: false })];
  t.is(nextStep(keys, at(0), policy), null);
  t.deepEqual(states(keys, 0), { k1: 'current', k2: 'next' });
  t.true(keyStatuses(keys, at(0), policy).every(isPublished), 'next and current are both published');
});

test('at the next key\'s signFrom it signs; the old key is retired, published until the last token it signed expired', (t) => {
  const keys = [key(1, 0, 0), key(2, 0, 90 * DAY, { rotationRecorded: false })];
  t.deepEqual(states(keys, 90 * DAY - 1), { k1: 'current', k2: 'next' });
  t.deepEqual(states(keys, 90 * DAY), { k1: 'retired', k2: 'current' });
  const retired = keyStatuses(keys, at(90 * DAY), policy)[0]!;
  t.deepEqual(retired.retiredAt, at(90 * DAY));
  t.deepEqual(retired.removeAfter, at(90 * DAY + policy.retainMs));
  t.true(isPublished(retired));
  t.deepEqual(states(keys, 90 * DAY + policy.retainMs - 1).k1, 'retired');
  const removed = keyStatuses(keys, at(90 * DAY + policy.retainMs), policy)[0]!;
  t.is(removed.state, 'removed');
  t.false(isPublished(removed));
});

test('after a scheduled takeover: the rotation is recorded once, then the following key is published', (t) => {
  const now = 90 * DAY + 30_000;
  let keys = [key(1, 0, 0), key(2, 0, 90 * DAY, { rotationRecorded: false })];
  t.deepEqual(nextStep(keys, at(now), policy), { kind: 'record-rotation', kid: 'k2', previousKid: 'k1' });
  keys = [keys[0]!, { ...keys[1]!, rotationRecorded: true }];
  t.deepEqual(nextStep(keys, at(now), policy), { kind: 'create', generation: 3, signFrom: at(180 * DAY) }, 'on the schedule, not from now');
});

test('a key is never due before it has been published for the lead time, nor in the past', (t) => {
  // The server was down for longer than the interval: the next key it makes waits for the lead.
  const keys = [key(1, 0, 0)];
  t.deepEqual(nextStep(keys, at(200 * DAY), policy), { kind: 'create', generation: 2, signFrom: at(200 * DAY + PUBLISH_LEAD_MS) });
});

test('a revoked key is out at once; when the signing key is revoked without a successor, the next key signs from now', (t) => {
  const keys = [key(1, 0, 0, { revokedAt: at(10 * DAY) }), key(2, 0, 90 * DAY, { rotationRecorded: false })];
  t.deepEqual(states(keys, 10 * DAY), { k1: 'revoked', k2: 'next' });
  t.false(isPublished(keyStatuses(keys, at(10 * DAY), policy)[0]!));
  t.deepEqual(nextStep(keys, at(10 * DAY), policy), { kind: 'promote', kid: 'k2', signFrom: at(10 * DAY) });
  // Every key revoked: a new one signs at once.
  const none = [key(1, 0, 0, { revokedAt: at(DAY) })];
  t.deepEqual(nextStep(none, at(DAY), policy), { kind: 'create', generation: 2, signFrom: at(DAY) });
});

test('a next key revoked before its turn never signed: it does not cut short the key before it', (t) => {
  const keys = [
    key(1, 0, 0),
    key(2, 0, 90 * DAY, { revokedAt: at(50 * DAY) }),
    key(3, 50 * DAY, 90 * DAY, { rotationRecorded: false }),
  ];
  const now = 90 * DAY + 60_000;
  t.deepEqual(states(keys, now), { k1: 'retired', k2: 'revoked', k3: 'current' });
  t.deepEqual(keyStatuses(keys, at(now), policy)[0]!.retiredAt, at(90 * DAY));
  t.deepEqual(nextStep(keys, at(now), policy), { kind: 'record-rotation', kid: 'k3', previousKid: 'k1' });
  // The replacement for a revoked next key keeps the schedule, once published for the lead time.
  const justRevoked = [key(1, 0, 0), key(2, 0, 90 * DAY, { revokedAt: at(50 * DAY) })];
  t.deepEqual(nextStep(justRevoked, at(50 * DAY), policy), { kind: 'create', generation: 3, signFrom: at(90 * DAY) });
  const lateRevoked = [key(1, 0, 0), key(2, 0, 90 * DAY, { revokedAt: at(90 * DAY - HOUR / 2) })];
  t.deepEqual(nextStep(lateRevoked, at(90 * DAY - HOUR / 2), policy), { kind: 'create', generation: 3, signFrom: at(90 * DAY - HOUR / 2 + PUBLISH_LEAD_MS) });
});

test('a shorter interval brings the next key forward (never before its lead time); a longer one leaves it', (t) => {
  const keys = [key(1, 0, 0), key(2, 0, 90 * DAY, { rotationRecorded: false })];
  const monthly = schedulePolicy({ rotationDays: 30, tokenTtlSeconds: 600 });
  t.deepEqual(nextStep(keys, at(DAY), monthly), { kind: 'reschedule', kid: 'k2', signFrom: at(30 * DAY) });
  // Overdue under the new interval: due now.
  t.deepEqual(nextStep(keys, at(40 * DAY), monthly), { kind: 'reschedule', kid: 'k2', signFrom: at(40 * DAY) });
  // A next key published a moment ago waits for its lead time.
  const fresh = [key(1, 0, 0), key(2, 40 * DAY, 130 * DAY, { rotationRecorded: false })];
  t.deepEqual(nextStep(fresh, at(40 * DAY), monthly), { kind: 'reschedule', kid: 'k2', signFrom: at(40 * DAY + PUBLISH_LEAD_MS) });
  t.is(nextStep(keys, at(DAY), schedulePolicy({ rotationDays: 180, tokenTtlSeconds: 600 })), null);
});

test('two processes reading the same keys at the same time reach the same states and the same step', (t) => {
  const keys = [key(1, 0, 0), key(2, 0, 90 * DAY, { rotationRecorded: false })];
  const shuffled = [keys[1]!, keys[0]!];
  for (const now of [0, 90 * DAY - 1, 90 * DAY, 90 * DAY + policy.retainMs]) {
    t.deepEqual(keyStatuses(shuffled, at(now), policy), keyStatuses(keys, at(now), policy));
    t.deepEqual(nextStep(shuffled, at(now), policy), nextStep(keys, at(now), policy));
  }
});
