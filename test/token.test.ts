// The token endpoint (RFC 6749 §4.4, RFC 9068) over HTTP, on the embedded FerretDB.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { basic, getToken, seedKeypair, tokenRequest } from './helpers/oauth.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

async function verify(kp: TestKeyport, token: string) {
  const jwks = createRemoteJWKSet(new URL(`${kp.url}/oauth/jwks`));
  return jwtVerify(token, jwks, { issuer: kp.url, audience: 'https://api.example.com', typ: 'at+jwt', algorithms: ['ES256'] });
}

test('client_secret_basic: a keypair gets an RFC 9068 JWT that verifies against the JWKS', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const response = await tokenRequest(kp.url, { keyId: seed.keyId, secret: seed.secret });
  t.is(response.status, 200);
  t.is(response.headers.get('cache-control'), 'no-store');
  t.is(response.headers.get('pragma'), 'no-cache');
  const body = await response.json() as Record<string, unknown>;
  t.is(body.token_type, 'Bearer');
  t.is(body.expires_in, 600);
  t.is(body.scope, 'orders:read orders:write');
  t.false('refresh_token' in body, 'never a refresh token for client credentials');
  const { payload, protectedHeader } = await verify(kp, body.access_token as string);
  t.is(protectedHeader.typ, 'at+jwt');
  t.is(protectedHeader.alg, 'ES256');
  t.is(payload.sub, seed.keyId);
  t.is(payload.client_id, seed.keyId);
  t.is(payload.iss, kp.url);
  t.is(payload.aud, 'https://api.example.com');
  t.is(payload.scope, 'orders:read orders:write');
  t.is(payload.acc, seed.accountId);
  t.is(payload.env, seed.environmentId);
  t.is(typeof payload.jti, 'string');
  t.is(payload.exp! - payload.iat!, 600);
});

test('client_secret_post works for the same keypair', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const token = await getToken(kp.url, { keyId: seed.keyId, secret: seed.secret, method: 'post' });
  const { payload } = await verify(kp, token);
  t.is(payload.client_id, seed.keyId);
});

test('an account keypair carries acc and no env claim', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport, { owner: 'account', scopes: ['reports:read'] });
  const { payload } = await verify(kp, await getToken(kp.url, seed));
  t.is(payload.acc, seed.accountId);
  t.false('env' in payload);
  t.is(payload.scope, 'reports:read');
});

test('scope: a subset is granted as asked; omitted means all of the keypair\'s scopes', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const subset = await verify(kp, await getToken(kp.url, { ...seed, scope: 'orders:read' }));
  t.is(subset.payload.scope, 'orders:read');
  const all = await verify(kp, await getToken(kp.url, seed));
  t.is(all.payload.scope, 'orders:read orders:write');
});

test('scope: a catalog scope the keypair lacks, or an unknown scope, is invalid_scope (never silently dropped)', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  for (const scope of ['orders:read reports:read', 'no-such-scope', 'orders:read keyport:manage']) {
    const response = await tokenRequest(kp.url, { ...seed, scope });
    t.is(response.status, 400, scope);
    const body = await response.json() as Record<string, unknown>;
    t.is(body.error, 'invalid_scope', scope);
    t.false('access_token' in body);
  }
});

test('a keypair with no scopes gets a token without scope, and cannot ask for any', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport, { scopes: [] });
  const { payload } = await verify(kp, await getToken(kp.url, seed));
  t.false('scope' in payload);
  const response = await tokenRequest(kp.url, { ...seed, scope: 'orders:read' });
  t.is((await response.json() as { error: string }).error, 'invalid_scope');
});

test('resource: a registered API becomes aud; an unknown one is invalid_target', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const ok = await tokenRequest(kp.url, { ...seed, resource: 'https://api.example.com' });
  t.is(ok.status, 200);
  const bad = await tokenRequest(kp.url, { ...seed, resource: 'https://evil.example.net' });
  t.is(bad.status, 400);
  t.is((await bad.json() as { error: string }).error, 'invalid_target');
});

async function expectInvalidClient(t: ExecutionContext<unknown>, response: Response, basicAuth: boolean) {
  t.is(response.status, 401);
  const body = await response.json() as Record<string, unknown>;
  t.deepEqual(body, { error: 'invalid_client', error_description: 'client authentication failed' });
  if (basicAuth) t.regex(response.headers.get('www-authenticate') ?? '', /^Basic /);
  return body;
}

test('wrong secret, unknown key, malformed secret and disabled key are all invalid_client 401, alike', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const other = await seedKeypair(kp.keyport);
  await kp.keyport.domain.keypairs.setEnabled(other.keyId, false, 'system');
  const cases = [
    { name: 'wrong secret (well-formed, valid checksum)', keyId: seed.keyId, secret: other.secret },
    { name: 'unknown key id', keyId: 'kp_AAAAAAAAAAAAAAAAAAAAAAAA', secret: seed.secret },
    { name: 'malformed secret', keyId: seed.keyId, secret: `${seed.secret.slice(0, -1)}x` },
    { name: 'not a key id at all', keyId: 'admin', secret: seed.secret },
    { name: 'disabled key with its right secret', keyId: other.keyId, secret: other.secret },
  ];
  for (const c of cases) {
    for (const method of ['basic', 'post'] as const) {
      const response = await tokenRequest(kp.url, { keyId: c.keyId, secret: c.secret, method });
      await expectInvalidClient(t, response, method === 'basic');
    }
  }
});

test.serial('every failed client authentication is counted in /metrics by reason, unknown key ids included', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const failures = async () => {
    const text = await (await fetch(`${kp.url}/metrics`)).text();
    const count = (reason: string) => Number(new RegExp(`^keyport_client_authentication_failures_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { unknown: count('unknown_key'), wrong: count('wrong_secret') };
  };
  const before = await failures();
  await tokenRequest(kp.url, { keyId: 'kp_BBBBBBBBBBBBBBBBBBBBBBBB', secret: seed.secret });
  await tokenRequest(kp.url, { keyId: seed.keyId, secret: (await seedKeypair(kp.keyport)).secret });
  const after = await failures();
  t.is(after.unknown - before.unknown, 1, 'an unknown key id');
  t.is(after.wrong - before.wrong, 1, 'a wrong secret');
});

test('RFC 6749 hygiene: duplicate parameters, two auth methods, GET, and secrets in the query are rejected', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const form = 'content-type';
  const dup = await fetch(`${kp.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(seed.keyId, seed.secret), [form]: 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=orders:read&scope=orders:write',
  });
  t.is(dup.status, 400);
  t.is((await dup.json() as { error: string }).error, 'invalid_request');

  const both = await fetch(`${kp.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(seed.keyId, seed.secret), [form]: 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: seed.keyId, client_secret: seed.secret }),
  });
  t.is(both.status, 400);
  t.is((await both.json() as { error: string }).error, 'invalid_request');

  const get = await fetch(`${kp.url}/oauth/token?grant_type=client_credentials`, { headers: { authorization: basic(seed.keyId, seed.secret) } });
  t.not(get.status, 200);

  const query = new URLSearchParams({ grant_type: 'client_credentials', client_id: seed.keyId, client_secret: seed.secret });
  const inQuery = await fetch(`${kp.url}/oauth/token?${query}`, { method: 'POST', headers: { [form]: 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
  t.not(inQuery.status, 200, 'a secret in the query string never authenticates');

  const grant = await fetch(`${kp.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(seed.keyId, seed.secret), [form]: 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=a&password=b',
  });
  t.is(grant.status, 400);
  t.is((await grant.json() as { error: string }).error, 'unsupported_grant_type');
});

test('discovery: RFC 8414 and OpenID documents name the endpoints; the JWKS has no private material', async (t) => {
  const { kp } = t.context;
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const doc = await (await fetch(`${kp.url}${path}`)).json() as Record<string, unknown>;
    t.is(doc.issuer, kp.url);
    t.deepEqual(doc.grant_types_supported, ['client_credentials']);
    t.is(doc.introspection_endpoint, `${kp.url}/oauth/introspect`);
    t.is(doc.revocation_endpoint, `${kp.url}/oauth/revoke`);
    t.truthy(String(doc.token_endpoint).endsWith('/oauth/token'));
  }
  const jwks = await (await fetch(`${kp.url}/oauth/jwks`)).json() as { keys: Record<string, unknown>[] };
  t.true(jwks.keys.length >= 1);
  for (const key of jwks.keys) {
    for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) t.false(priv in key, `JWKS leaks ${priv}`);
    t.is(key.alg, 'ES256');
    t.is(key.use, 'sig');
  }
  const token = await getToken(kp.url, await seedKeypair(kp.keyport));
  t.true(jwks.keys.some((k) => k.kid === decodeProtectedHeader(token).kid));
});
