// The limits in src/domain/limits.ts are the ones the API schemas and the config apply.
import test from 'ava';
import { COMMENT_MAX, DEFAULT_GRACE, GRACE_PERIOD_NAMES, GRACE_PERIODS, NAME_MAX, SCOPE_NAME_PATTERN } from '../../src/domain/limits.ts';
import { schemas } from '../../src/http/api/validation.ts';

test('the API accepts names and comments up to the domain limits and not one character more', (t) => {
  t.true(schemas.createKeypair.safeParse({ name: 'n'.repeat(NAME_MAX), comment: 'c'.repeat(COMMENT_MAX) }).success);
  t.false(schemas.createKeypair.safeParse({ name: 'n'.repeat(NAME_MAX + 1) }).success);
  t.false(schemas.createKeypair.safeParse({ name: 'n', comment: 'c'.repeat(COMMENT_MAX + 1) }).success);
  t.false(schemas.named.safeParse({ name: 'n'.repeat(NAME_MAX + 1) }).success);
});

test('the API offers exactly the domain\'s grace periods', (t) => {
  t.deepEqual([...GRACE_PERIOD_NAMES], Object.keys(GRACE_PERIODS));
  for (const grace of GRACE_PERIOD_NAMES) t.true(schemas.rotate.safeParse({ grace }).success, grace);
  for (const grace of ['2h', '', '24', '0h']) t.false(schemas.rotate.safeParse({ grace }).success, grace);
  t.true(Object.hasOwn(GRACE_PERIODS, DEFAULT_GRACE));
});

test('scope names: the RFC 6749 scope-token characters', (t) => {
  for (const ok of ['orders:read', 'keyport:manage', 'a', '~!#[]']) t.true(SCOPE_NAME_PATTERN.test(ok), ok);
  for (const bad of ['', 'a b', 'a"b', 'a\\b', 'é', 'a\n']) t.false(SCOPE_NAME_PATTERN.test(bad), JSON.stringify(bad));
  t.false(schemas.createKeypair.safeParse({ name: 'n', scopes: ['a b'] }).success);
});
