// The one HTTP Basic parser (src/oauth/client-auth.ts): RFC 6749 §2.3.1 form
// decoding of both parts, the same for the token endpoint and introspection.
import test from 'ava';
import { parseBasic } from '../../src/oauth/client-auth.ts';

const header = (raw: string) => `Basic ${Buffer.from(raw, 'utf8').toString('base64')}`;

test('plain base62 id and secret come back as they are', (t) => {
  t.deepEqual(parseBasic(header('kp_abc:kps_secret')), { clientId: 'kp_abc', clientSecret: 'kps_secret' });
});

test('both parts are form-decoded: percent escapes and "+" as a space', (t) => {
  t.deepEqual(parseBasic(header('kp%5Fabc:kps%5Fs%3Acret+x')), { clientId: 'kp_abc', clientSecret: 'kps_s:cret x' });
  t.deepEqual(parseBasic(header('%6B%70:%6B')), { clientId: 'kp', clientSecret: 'k' });
});

test('the first colon splits: a colon in the secret survives, an encoded colon in the id too', (t) => {
  t.deepEqual(parseBasic(header('id:a:b')), { clientId: 'id', clientSecret: 'a:b' });
  t.deepEqual(parseBasic(header('i%3Ad:s')), { clientId: 'i:d', clientSecret: 's' });
});

test('the scheme is case-insensitive', (t) => {
  t.deepEqual(parseBasic(`basic ${Buffer.from('a:b').toString('base64')}`), { clientId: 'a', clientSecret: 'b' });
});

test('malformed headers', (t) => {
  for (const value of ['', 'Bearer abc', 'Basic', 'Basic ', 'Basic !!!', `Basic ${Buffer.from('nocolon').toString('base64')}`, header(':secret'), `Basic  ${Buffer.from('a:b').toString('base64')}`]) {
    t.is(parseBasic(value), 'malformed', JSON.stringify(value));
  }
});

test('a part that is not valid form encoding', (t) => {
  t.is(parseBasic(header('kp:%ZZ')), 'bad_encoding');
  t.is(parseBasic(header('%E0%A4%A:s')), 'bad_encoding');
});

test('an empty secret is a secret (refused later by the secret check)', (t) => {
  t.deepEqual(parseBasic(header('kp:')), { clientId: 'kp', clientSecret: '' });
});
