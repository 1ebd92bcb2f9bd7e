// Per-address throttling of failed client authentications (docs/architecture.md, Lockout): one
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
  const throttled = await tokenRequest(kp.url, keys[0]);
  t.is(throttled.status, 429, 'even the right secret waits');
  t.is((await throttled.json() as { error: string }).error, 'slow_down');
  t.true(Number(throttled.headers.get('retry-after')) >= 1);
  t.is(throttled.headers.get('cache-control'), 'no-store');

  const introspection = await fetch(`${kp.url}/oauth/introspect`, {
    method: 'POST',
    headers: { authorization: basic(keys[0].keyId, keys[0].secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'token=x',
  });
  t.is(introspection.status, 429);

  // Throttled requests never reached the keys: their failure counters hold only the six real attempts.
  await kp.keyport.domain.keypairAuth.failuresCounted();
  const docs = await Promise.all(keys.map((k) => kp.keyport.database.models.Keypair.findById(k.keyId).lean()));
  t.is(docs.reduce((sum, doc) => sum + (doc?.failedAttempts ?? 0), 0), 6);
});

/** Two wrong secrets, then the right one, from `address` as X-Forwarded-For says it. */
async function failTwiceFrom(url: string, key: { keyId: string; secret: string }, wrongSecret: string, address: string): Promise<number[]> {
  const statuses: number[] = [];
  const from = (secret: string) => fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(key.keyId, secret), 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `${address}, 10.0.0.1` },
    body: 'grant_type=client_credentials',
  });
  for (const secret of [wrongSecret, wrongSecret, key.secret]) statuses.push((await from(secret)).status);
  return statuses;
}

test('behind a trusted proxy each client address (first X-Forwarded-For entry) has its own budget, shared by token and introspection; otherwise the header changes nothing', async (t) => {
  const budgetOfTwo = { lockout: { maxFailuresPerAddress: 2, maxFailures: 100 } };
  const [proxied, direct] = await Promise.all([
    startTestKeyport({ overrides: { ...budgetOfTwo, server: { host: '127.0.0.1', port: 0, trustProxy: true } } }),
    startTestKeyport({ overrides: budgetOfTwo }),
  ]);
  t.teardown(() => Promise.all([proxied.close(), direct.close()]));
  const [key, other] = await Promise.all([seedKeypair(proxied.keyport), seedKeypair(proxied.keyport)]);

  t.deepEqual(await failTwiceFrom(proxied.url, key, other.secret, '203.0.113.7'), [401, 401, 429], 'the budget of 203.0.113.7 is spent');
  t.deepEqual(await failTwiceFrom(proxied.url, key, other.secret, '203.0.113.8'), [401, 401, 429], 'another address has its own');
  const introspection = (address: string) => fetch(`${proxied.url}/oauth/introspect`, {
    method: 'POST',
    headers: { authorization: basic(other.keyId, other.secret), 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address },
    body: 'token=x',
  });
  t.is((await introspection('203.0.113.7')).status, 429, 'the same address is refused at introspection too');
  t.is((await introspection('203.0.113.9')).status, 200, 'a fresh address is not');

  // The outcomes reach the metrics: two addresses, two failures and one refusal each.
  const metrics = await (await fetch(`${proxied.url}/metrics`)).text();
  t.regex(metrics, /keyport_token_requests_total\{outcome="invalid_client"\} 4\n/);
  t.regex(metrics, /keyport_token_requests_total\{outcome="slow_down"\} 2\n/);

  // Without trustProxy, a client cannot escape its budget by changing the header.
  const directKey = await seedKeypair(direct.keyport);
  const statuses: number[] = [];
  for (const address of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
    const response = await fetch(`${direct.url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basic(directKey.keyId, other.secret), 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address },
      body: 'grant_type=client_credentials',
    });
    statuses.push(response.status);
  }
  t.deepEqual(statuses, [401, 401, 429]);
});

test('an address over its budget gets its 429 held back (a tarpit), while another address is served at once', async (t) => {
  const tarpit = await startTestKeyport({ overrides: { lockout: { maxFailuresPerAddress: 2, maxFailures: 100, throttleDelayMs: 400 }, server: { host: '127.0.0.1', port: 0, trustProxy: true } } });
  t.teardown(() => tarpit.close());
  const [key, other] = await Promise.all([seedKeypair(tarpit.keyport), seedKeypair(tarpit.keyport)]);
  const from = (address: string, secret: string) => fetch(`${tarpit.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(key.keyId, secret), 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address },
    body: 'grant_type=client_credentials',
  });
  for (let i = 0; i < 2; i++) t.is((await from('203.0.113.9', other.secret)).status, 401);

  const order: string[] = [];
  const started = performance.now();
  const flood = Array.from({ length: 20 }, () => from('203.0.113.9', other.secret).then((res) => {
    order.push('throttled');
    return { status: res.status, ms: performance.now() - started };
  }));
  const good = await from('203.0.113.10', key.secret);
  order.push('good');
  const held = await Promise.all(flood);

  t.is(good.status, 200);
  t.deepEqual(held.map((r) => r.status), Array.from({ length: 20 }, () => 429));
  t.is(order[0], 'good', 'the other address is answered before any held 429');
  // A lower bound only (the hold is a minimum); the twenty are held side by side, not one after another.
  t.true(held.every((r) => r.ms >= 380), `every 429 was held at least the configured 400 ms: ${held.map((r) => Math.round(r.ms)).join(', ')}`);
});
