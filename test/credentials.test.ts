// The credential formats and the secret hash (docs/architecture.md, Security model).
import test from 'ava';
import { createHmac, randomBytes } from 'node:crypto';
import { isWellFormedKeyId, isWellFormedSecret, newKeyId, newSecret, PreparedHmacSha256, SecretHasher } from '../src/domain/credentials.ts';

test('key ids are kp_ + 24 base62 characters, all different', (t) => {
  const ids = new Set(Array.from({ length: 1000 }, newKeyId));
  t.is(ids.size, 1000);
  for (const id of ids) t.regex(id, /^kp_[0-9A-Za-z]{24}$/);
});

test('secrets are kps_ + 43 base62 characters + a 6-character checksum that verifies', (t) => {
  for (let i = 0; i < 200; i++) {
    const secret = newSecret();
    t.regex(secret, /^kps_[0-9A-Za-z]{49}$/);
    t.true(isWellFormedSecret(secret));
  }
});

test('a mistyped secret fails its checksum', (t) => {
  const secret = newSecret();
  const swap = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
  let rejected = 0;
  for (let i = 4; i < secret.length; i++) if (!isWellFormedSecret(swap(secret, i))) rejected++;
  t.is(rejected, secret.length - 4, 'every single-character change is caught');
  t.false(isWellFormedSecret(secret.slice(0, -1)));
  t.false(isWellFormedSecret(`${secret}x`));
  t.false(isWellFormedSecret(secret.replace('kps_', 'kpx_')));
  t.false(isWellFormedKeyId('kp_short'));
});

test('secret characters are spread over the whole base62 alphabet (no modulo bias towards the first ones)', (t) => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) for (const c of newSecret().slice(4, 47)) counts.set(c, (counts.get(c) ?? 0) + 1);
  t.is(counts.size, 62);
  const expected = (400 * 43) / 62;
  for (const [c, n] of counts) t.true(n > expected * 0.6 && n < expected * 1.4, `${c}: ${n}`);
});

test('hashes: HMAC under the pepper, deterministic, pepper-dependent, never the secret', (t) => {
  const secret = newSecret();
  const a = new SecretHasher('pepper-one-0123456789abcdef0123456789');
  const b = new SecretHasher('pepper-two-0123456789abcdef0123456789');
  const hash = a.hash(secret);
  t.is(hash, a.hash(secret));
  t.not(hash, b.hash(secret));
  t.false(hash.includes(secret.slice(4)));
  t.true(a.matchesAny(secret, [hash]));
  t.false(b.matchesAny(secret, [hash]));
  t.false(a.matchesAny(newSecret(), [hash]));
  t.false(a.matchesAny(secret, ['not-a-hash']));
  t.false(a.matchesAny(secret, []));
  t.true(a.matchesAny(secret, [a.hash(newSecret()), hash]), 'the second of two live secrets');
  t.true(a.matchesAny(secret, [hash, a.hash(newSecret())]), 'the first of two live secrets');
});

test('the prepared HMAC-SHA-256 gives RFC 4231\'s results (short, text and longer-than-a-block keys) and stays reusable', (t) => {
  const vectors: Array<[Buffer, string, string]> = [
    [Buffer.alloc(20, 0x0b), 'Hi There', 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
    [Buffer.from('Jefe'), 'what do ya want for nothing?', '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
    [Buffer.alloc(131, 0xaa), 'Test Using Larger Than Block-Size Key - Hash Key First', '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
  ];
  for (const [key, message, expected] of vectors) {
    const hmac = new PreparedHmacSha256(key);
    t.is(hmac.digest(message).toString('hex'), expected);
    t.is(hmac.digest(message).toString('hex'), expected, 'a second digest with the same prepared key');
  }
});

test('the prepared HMAC-SHA-256 equals node:crypto createHmac for keys of every length around the block size', (t) => {
  for (const length of [0, 1, 32, 63, 64, 65, 128, 200]) {
    const key = randomBytes(length);
    const hmac = new PreparedHmacSha256(key);
    // Longer than the scratch buffer's first size (256 bytes), then short again.
    for (const message of ['', newSecret(), 'ünïcødé ✓', 'x'.repeat(300), '€'.repeat(700), newSecret(), '']) {
      t.is(hmac.digest(message).toString('hex'), createHmac('sha256', key).update(message, 'utf8').digest('hex'), `key of ${length} bytes`);
    }
  }
});
