// Introspection (RFC 7662) and revocation (RFC 7009) of Keyport's JWT access tokens.
import anyTest, { type TestFn } from 'ava';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { basic, getToken, introspect, seedKeypair } from './helpers/oauth.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

function revoke(url: string, caller: { keyId: string; secret: string }, token: string) {
  return fetch(`${url}/oauth/revoke`, {
    method: 'POST',
    headers: { authorization: basic(caller.keyId, caller.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
}

test('a client introspects its own live token: active with the token\'s claims', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const token = await getToken(kp.url, seed);
  const result = await introspect(kp.url, seed, token);
  t.is(result.active, true);
  t.is(result.client_id, seed.keyId);
  t.is(result.sub, seed.keyId);
  t.is(result.scope, 'orders:read orders:write');
  t.is(result.aud, 'https://api.example.com');
  t.is(result.iss, kp.url);
  t.is(result.token_type, 'Bearer');
  t.is(result.acc, seed.accountId);
  t.is(result.env, seed.environmentId);
  t.true(typeof result.exp === 'number' && typeof result.iat === 'number');
});

test('introspection requires client authentication, with no-store responses', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const token = await getToken(kp.url, seed);
  const anonymous = await fetch(`${kp.url}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
  t.is(anonymous.status, 401);
  t.is((await anonymous.json() as { error: string }).error, 'invalid_client');
  const wrong = await fetch(`${kp.url}/oauth/introspect`, { method: 'POST', headers: { authorization: basic(seed.keyId, 'kps_nope'), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
  t.is(wrong.status, 401);
  t.regex(wrong.headers.get('www-authenticate') ?? '', /^Basic /);
  const missing = await fetch(`${kp.url}/oauth/introspect`, { method: 'POST', headers: { authorization: basic(seed.keyId, seed.secret), 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  t.is(missing.status, 400);
  t.is((await missing.json() as { error: string }).error, 'invalid_request');
  const ok = await fetch(`${kp.url}/oauth/introspect`, { method: 'POST', headers: { authorization: basic(seed.keyId, seed.secret), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
  t.is(ok.headers.get('cache-control'), 'no-store');
});

test('unknown, garbage and other clients\' tokens are only {"active": false}', async (t) => {
  const { kp } = t.context;
  const a = await seedKeypair(kp.keyport);
  const b = await seedKeypair(kp.keyport);
  const tokenOfB = await getToken(kp.url, b);
  t.deepEqual(await introspect(kp.url, a, tokenOfB), { active: false });
  t.deepEqual(await introspect(kp.url, a, 'not-a-token'), { active: false });
  const [h, p] = tokenOfB.split('.');
  t.deepEqual(await introspect(kp.url, b, `${h}.${p}.AAAA`), { active: false }, 'a bad signature is inactive');
});

test('a keypair with keyport:introspect introspects tokens of its own account only', async (t) => {
  const { kp } = t.context;
  const client = await seedKeypair(kp.keyport);
  const resourceServer = await kp.keyport.domain.keypairs.create({ accountId: client.accountId }, { name: 'orders-api', scopes: ['keyport:introspect'] }, 'system');
  const rs = { keyId: resourceServer.keypair.keyId, secret: resourceServer.secret };
  const token = await getToken(kp.url, client);
  t.is((await introspect(kp.url, rs, token)).active, true);
  const stranger = await seedKeypair(kp.keyport);
  t.deepEqual(await introspect(kp.url, rs, await getToken(kp.url, stranger)), { active: false }, 'another account\'s token');
});

test('disable and remove take effect at once at introspection; enable does not revive the disabled tokens', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const observer = await kp.keyport.domain.keypairs.create({ accountId: seed.accountId }, { name: 'observer', scopes: ['keyport:introspect'] }, 'system');
  const rs = { keyId: observer.keypair.keyId, secret: observer.secret };
  const token = await getToken(kp.url, seed);
  await kp.keyport.domain.keypairs.setEnabled(seed.keyId, false, 'system');
  t.deepEqual(await introspect(kp.url, rs, token), { active: false });
  await kp.keyport.domain.keypairs.setEnabled(seed.keyId, true, 'system');
  t.deepEqual(await introspect(kp.url, rs, token), { active: false });
  const fresh = await getToken(kp.url, seed);
  t.is((await introspect(kp.url, rs, fresh)).active, true);
  await kp.keyport.domain.keypairs.remove(seed.keyId, 'system');
  t.deepEqual(await introspect(kp.url, rs, fresh), { active: false });
});

test('revocation: own token becomes inactive; invalid token is 200; another client\'s token is refused', async (t) => {
  const { kp } = t.context;
  const a = await seedKeypair(kp.keyport);
  const b = await seedKeypair(kp.keyport);
  const token = await getToken(kp.url, a);
  const keep = await getToken(kp.url, a);

  const foreign = await revoke(kp.url, b, token);
  t.is(foreign.status, 400);
  t.is((await foreign.json() as { error: string }).error, 'unauthorized_client');
  t.is((await introspect(kp.url, a, token)).active, true, 'a refused revocation changes nothing');

  const own = await revoke(kp.url, a, token);
  t.is(own.status, 200);
  t.deepEqual(await introspect(kp.url, a, token), { active: false });
  t.is((await introspect(kp.url, a, keep)).active, true, 'only that token is revoked');
  t.is((await revoke(kp.url, a, token)).status, 200, 'revoking twice is fine');
  t.is((await revoke(kp.url, a, 'garbage')).status, 200);

  const anonymous = await fetch(`${kp.url}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: keep }) });
  t.is(anonymous.status, 401);
  t.is((await introspect(kp.url, a, keep)).active, true);
});

test('bad requests to introspection and revocation get OAuth JSON errors: a body too large, not a form, the wrong method', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const auth = { authorization: basic(seed.keyId, seed.secret) };
  for (const path of ['/oauth/introspect', '/oauth/revoke']) {
    const cases: Array<[RequestInit, number]> = [
      [{ method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${'a'.repeat(40_000)}` }, 413],
      [{ method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{not json' }, 400],
      [{ method: 'GET', headers: auth }, 405],
    ];
    for (const [init, status] of cases) {
      const response = await fetch(`${kp.url}${path}`, init);
      const what = `${init.method} ${path} → ${status}`;
      t.is(response.status, status, what);
      t.regex(response.headers.get('content-type') ?? '', /^application\/json/, what);
      t.is(response.headers.get('cache-control'), 'no-store', what);
      t.is((await response.json() as { error?: string }).error, 'invalid_request', what);
      if (status === 405) t.is(response.headers.get('allow'), 'POST', what);
    }
  }
});
