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
