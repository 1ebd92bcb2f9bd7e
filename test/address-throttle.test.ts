// Per-address throttling of failed client authentications (DESIGN.md §14): one
// address cannot lock many keys or flood the database with wrong secrets.
import anyTest, { type TestFn } from 'ava';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { basic, seedKeypair, tokenRequest } from './helpers/oauth.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport({ overrides: { lockout: { maxFailuresPerAddress: 6, maxFailures: 100 } } });
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

test('after its failure budget an address gets 429 slow_down, before any database work, on every client-authenticated endpoint', async (t) => {
  const { kp } = t.context;
  const keys = await Promise.all([seedKeypair(kp.keyport), seedKeypair(kp.keyport), seedKeypair(kp.keyport)]);
  // Six failures spread over three keys: the budget is per address, not per key.
  for (let i = 0; i < 6; i++) {
    const key = keys[i % 3]!;
    t.is((await tokenRequest(kp.url, { keyId: key.keyId, secret: keys[(i + 1) % 3]!.secret })).status, 401);
  }
  const throttled = await tokenRequest(kp.url, keys[0]!);
  t.is(throttled.status, 429, 'even the right secret waits');
  t.is((await throttled.json() as { error: string }).error, 'slow_down');
  t.true(Number(throttled.headers.get('retry-after')) >= 1);
  t.is(throttled.headers.get('cache-control'), 'no-store');

  const introspection = await fetch(`${kp.url}/oauth/introspect`, {
    method: 'POST',
    headers: { authorization: basic(keys[0]!.keyId, keys[0]!.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'token=x',
  });
  t.is(introspection.status, 429);

  // Throttled requests never reached the keys: their failure counters hold only the six real attempts.
  await kp.keyport.domain.keypairs.failuresCounted();
  const docs = await Promise.all(keys.map((k) => kp.keyport.database.models.Keypair.findById(k.keyId).lean()));
  t.is(docs.reduce((sum, doc) => sum + (doc?.failedAttempts ?? 0), 0), 6);
});
