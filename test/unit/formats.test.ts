// The id and secret formats (src/domain/credentials.ts): what Keyport issues
// matches the patterns that the API, the UI and the secret check apply.
import test from 'ava';
import { ID_PATTERNS, isWellFormedKeyId, isWellFormedSecret, KEY_ID_PATTERN, newId, newKeyId, newSecret, SECRET_PATTERN } from '../../src/domain/credentials.ts';

test('every issued id matches its own pattern and no other', (t) => {
  const issued = { accountId: newId('acc'), environmentId: newId('env'), userId: newId('usr'), membershipId: newId('mem'), keyId: newKeyId() };
  for (const [kind, id] of Object.entries(issued)) {
    for (const [other, pattern] of Object.entries(ID_PATTERNS)) t.is(pattern.test(id), other === kind, `${id} against ${other}`);
  }
  t.is(ID_PATTERNS.keyId, KEY_ID_PATTERN);
  t.true(isWellFormedKeyId(issued.keyId));
});

test('id patterns refuse near misses', (t) => {
  const id = newId('acc');
  for (const bad of [`${id}x`, id.slice(0, -1), id.replace('acc_', 'ACC_'), `${id.slice(0, -1)}-`, ` ${id}`, `${id}\n`]) t.false(ID_PATTERNS.accountId.test(bad), JSON.stringify(bad));
  t.false(isWellFormedKeyId(`${newKeyId()}0`));
});

test('a secret has the format and a checksum that catches any single changed character', (t) => {
  const secret = newSecret();
  t.regex(secret, SECRET_PATTERN);
  t.true(isWellFormedSecret(secret));
  for (let i = 4; i < secret.length; i++) {
    const changed = secret.slice(0, i) + (secret[i] === 'a' ? 'b' : 'a') + secret.slice(i + 1);
    t.true(SECRET_PATTERN.test(changed), 'still the format');
    t.false(isWellFormedSecret(changed), `changed at ${i}`);
  }
});

test('the checksum is the last six characters: a valid body with another checksum is refused', (t) => {
  const a = newSecret();
  const b = newSecret();
  t.false(isWellFormedSecret(a.slice(0, -6) + b.slice(-6)));
  t.false(isWellFormedSecret(encodeURIComponent(a).replace(/k/, '%6B')), 'a form-encoded secret is not decoded here');
});
