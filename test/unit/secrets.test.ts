// A keypair's secret list as plain data (src/domain/secrets.ts): no server, no database.
import test from 'ava';
import { liveSecrets, rotatedSecrets, type StoredSecret } from '../../src/domain/secrets.ts';

const now = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(now.getTime() + ms);
const HOUR = 3_600_000;
const current: StoredSecret = { hash: 'current', createdAt: at(-10 * HOUR), expiresAt: null };

test('live secrets: the current one, and a previous one until (not at) its end', (t) => {
  const previous: StoredSecret = { hash: 'previous', createdAt: at(-20 * HOUR), expiresAt: at(1) };
  t.deepEqual(liveSecrets({ secrets: [current, previous] }, now).map((s) => s.hash), ['current', 'previous']);
  t.deepEqual(liveSecrets({ secrets: [current, { ...previous, expiresAt: now }] }, now).map((s) => s.hash), ['current']);
});

test('a rotation with grace keeps the old current secret until now + grace', (t) => {
  const { secrets, endedEarlierPrevious } = rotatedSecrets([current], 'new', now, 24 * HOUR);
  t.deepEqual(secrets, [{ hash: 'new', createdAt: now, expiresAt: null }, { ...current, expiresAt: at(24 * HOUR) }]);
  t.false(endedEarlierPrevious);
});

test('a regeneration (grace 0) keeps only the new secret', (t) => {
  const previous: StoredSecret = { hash: 'previous', createdAt: at(-20 * HOUR), expiresAt: at(HOUR) };
  const { secrets, endedEarlierPrevious } = rotatedSecrets([current, previous], 'new', now, 0);
  t.deepEqual(secrets, [{ hash: 'new', createdAt: now, expiresAt: null }]);
  t.true(endedEarlierPrevious);
});

test('a previous secret still in its grace period ends at once: never more than two secrets', (t) => {
  const previous: StoredSecret = { hash: 'previous', createdAt: at(-20 * HOUR), expiresAt: at(HOUR) };
  const { secrets, endedEarlierPrevious } = rotatedSecrets([current, previous], 'new', now, 3 * HOUR);
  t.deepEqual(secrets.map((s) => s.hash), ['new', 'current']);
  t.true(endedEarlierPrevious);
});

test('an expired previous secret is dropped without counting as cut short', (t) => {
  const expired: StoredSecret = { hash: 'expired', createdAt: at(-20 * HOUR), expiresAt: at(-HOUR) };
  const { secrets, endedEarlierPrevious } = rotatedSecrets([current, expired], 'new', now, HOUR);
  t.deepEqual(secrets.map((s) => s.hash), ['new', 'current']);
  t.false(endedEarlierPrevious);
});

test('with no current secret, a rotation keeps only the new one', (t) => {
  t.deepEqual(rotatedSecrets([], 'new', now, HOUR).secrets.map((s) => s.hash), ['new']);
});

// ---- ended secrets, hints, usage, rotation safety -------------------------

import { DomainError } from '../../src/domain/errors.ts';
import { endedSecretHashes, endedSecrets, secretEnd, secretHint, shownHint, withGraceExtended, withPreviousEnded, withRetireWhenIdle, withUsage, type EndedSecret, type SecretUsageBatch } from '../../src/domain/secrets.ts';

const DAY = 24 * HOUR;
const RETENTION = 30 * DAY;
const batch = (hash: string, fields: Partial<SecretUsageBatch>): SecretUsageBatch => ({ hash, uses: 0, lastUsedAt: null, endedUses: 0, endedLastSeenAt: null, endedLastAddress: null, ...fields });

test('a hint is the last 4 characters, shown as kps_…; none for secrets stored without one', (t) => {
  t.is(secretHint('kps_abcdefAbC9'), 'AbC9');
  t.is(shownHint('AbC9'), 'kps_…AbC9');
  t.is(shownHint(undefined), null);
});

test('a regeneration keeps the ended secret (hash, hint, usage) among the ended ones; a rotation keeps the previous live', (t) => {
  const used: StoredSecret = { ...current, hint: 'AbC9', useCount: 7, lastUsedAt: at(-HOUR) };
  const regenerated = rotatedSecrets([used], 'new', now, 0, { hint: 'NeW1', retentionMs: RETENTION });
  t.deepEqual(regenerated.secrets, [{ hash: 'new', createdAt: now, expiresAt: null, hint: 'NeW1' }]);
  t.like(regenerated.endedSecrets[0], { hash: 'current', hint: 'AbC9', endedAt: now, useCount: 7, lastUsedAt: at(-HOUR), endedUseCount: 0 });
  const rotated = rotatedSecrets([used], 'new', now, HOUR, { retentionMs: RETENTION });
  t.deepEqual(rotated.endedSecrets, []);
});

test('ended secrets: an expired previous secret counts as ended at its end; kept for the retention only, newest first', (t) => {
  const expired: StoredSecret = { hash: 'expired', createdAt: at(-20 * HOUR), expiresAt: at(-HOUR) };
  const older: EndedSecret = { hash: 'older', hint: null, createdAt: at(-40 * DAY), endedAt: at(-29 * DAY), lastUsedAt: null, useCount: 0, endedUseCount: 0, endedLastSeenAt: null, endedLastAddress: null, endedAuditedAt: null };
  const gone: EndedSecret = { ...older, hash: 'gone', endedAt: at(-RETENTION) };
  const record = { secrets: [current, expired], endedSecrets: [older, gone] };
  t.deepEqual(endedSecrets(record, now, RETENTION).map((e) => [e.hash, e.endedAt]), [['expired', at(-HOUR)], ['older', at(-29 * DAY)]]);
  t.deepEqual(endedSecretHashes(record, now, RETENTION), ['expired', 'older']);
  t.deepEqual(endedSecretHashes({ secrets: [current] }, now, RETENTION), []);
});

test('retireWhenIdle: a previous secret ends once unused that long, counted from its last use or from when it was set', (t) => {
  const previous: StoredSecret = { hash: 'previous', createdAt: at(-20 * HOUR), expiresAt: at(48 * HOUR), retireWhenIdleMs: HOUR, retireWhenIdleSince: at(-3 * HOUR), lastUsedAt: at(-30 * 60_000) };
  t.deepEqual(secretEnd(previous), at(30 * 60_000));
  t.deepEqual(secretEnd({ ...previous, lastUsedAt: at(-5 * HOUR) }), at(-2 * HOUR));
  t.deepEqual(secretEnd({ ...previous, lastUsedAt: at(47.5 * HOUR) }), at(48 * HOUR), 'never past the grace period');
  t.deepEqual(liveSecrets({ secrets: [current, { ...previous, lastUsedAt: null }] }, now).map((s) => s.hash), ['current']);
  const set = withRetireWhenIdle({ secrets: [current, { hash: 'p', createdAt: at(-HOUR), expiresAt: at(HOUR) }] }, now, 15 * 60_000);
  t.deepEqual(secretEnd(set[1]!), at(15 * 60_000));
});

test('ending the previous secret: refused when used within the hour unless forced', (t) => {
  const previous: StoredSecret = { hash: 'previous', createdAt: at(-20 * HOUR), expiresAt: at(HOUR), lastUsedAt: at(-59 * 60_000) };
  const record = { secrets: [current, previous] };
  const refused = t.throws(() => withPreviousEnded(record, now, RETENTION, { force: false, lastUsedAt: previous.lastUsedAt! }), { instanceOf: DomainError });
  t.is(refused.code, 'previous_secret_in_use');
  const forced = withPreviousEnded(record, now, RETENTION, { force: true, lastUsedAt: previous.lastUsedAt! });
  t.deepEqual(forced.secrets.map((s) => s.hash), ['current']);
  t.like(forced.endedSecrets[0], { hash: 'previous', endedAt: now });
  t.notThrows(() => withPreviousEnded(record, now, RETENTION, { force: false, lastUsedAt: at(-HOUR) }));
  t.like(t.throws(() => withPreviousEnded({ secrets: [current] }, now, RETENTION, { force: true, lastUsedAt: null }), { instanceOf: DomainError }), { code: 'conflict' });
});

test('extending a grace period: later than its end, at most 72 hours after the rotation', (t) => {
  const rotation = { ...current, createdAt: at(-HOUR) };
  const record = { secrets: [rotation, { hash: 'previous', createdAt: at(-20 * HOUR), expiresAt: at(HOUR) }] };
  t.deepEqual(withGraceExtended(record, now, at(71 * HOUR))[1]!.expiresAt, at(71 * HOUR));
  t.throws(() => withGraceExtended(record, now, at(71 * HOUR + 1)), { message: /72 hours/ });
  t.throws(() => withGraceExtended(record, now, at(HOUR)), { message: /later than/ });
});

test('usage merges by hash; the "still in use" events come once a day per secret', (t) => {
  const previous: StoredSecret = { hash: 'previous', createdAt: at(-20 * HOUR), expiresAt: at(HOUR), useCount: 2 };
  const ended: EndedSecret = { hash: 'ended', hint: 'EnD1', createdAt: at(-40 * HOUR), endedAt: at(-20 * HOUR), lastUsedAt: null, useCount: 0, endedUseCount: 3, endedLastSeenAt: at(-2 * HOUR), endedLastAddress: '10.0.0.1', endedAuditedAt: at(-2 * HOUR) };
  const merged = withUsage({ secrets: [current, previous], endedSecrets: [ended] }, [
    batch('current', { uses: 4, lastUsedAt: at(-1) }),
    batch('previous', { uses: 1, lastUsedAt: at(-2) }),
    batch('ended', { endedUses: 2, endedLastSeenAt: at(-3), endedLastAddress: '10.0.0.2' }),
  ], now, RETENTION);
  t.like(merged.secrets[0], { useCount: 4, lastUsedAt: at(-1) });
  t.like(merged.secrets[1], { useCount: 3, lastUsedAt: at(-2), stillUsedAuditedAt: now });
  t.like(merged.endedSecrets[0], { endedUseCount: 5, endedLastSeenAt: at(-3), endedLastAddress: '10.0.0.2', endedAuditedAt: at(-2 * HOUR) });
  t.deepEqual(merged.events.map((e) => e.action), ['keypair.previous_secret_still_used'], 'the ended secret was audited within the day');

  const dayLater = new Date(now.getTime() + DAY);
  const again = withUsage({ secrets: merged.secrets, endedSecrets: merged.endedSecrets }, [batch('ended', { endedUses: 1, endedLastSeenAt: dayLater })], dayLater, RETENTION);
  t.deepEqual(again.events.map((e) => e.action), ['keypair.ended_secret_used']);
  t.like(again.events[0]!.details, { hint: 'kps_…EnD1', count: 6 });
  t.like(again.endedSecrets.find((e) => e.hash === 'previous'), { useCount: 3, endedAt: at(HOUR) }, 'the previous secret, over by then, moved to the ended ones with its usage');
});
