// Authentication of the admin API: sessions with CSRF tokens, Keyport bearer
// tokens for the admin API's audience, and the sign-in throttle.
import test from 'ava';
import { ADMIN_API_RESOURCE } from '../../src/http/api/auth.ts';
import { accountOwner, ApiClient, createTenant, createUser, PASSWORD } from '../helpers/api.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { basic, getToken } from '../helpers/oauth.ts';

let tk: TestKeyport;
let tenant: Awaited<ReturnType<typeof createTenant>>;

test.before(async () => {
  tk = await startTestKeyport();
  tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'throttled@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
});
test.after.always(async () => {
  await tk?.close();
});

test('no credentials: 401 with the error shape', async (t) => {
  const res = await ApiClient.anonymous(tk.url).get('/accounts');
  t.is(res.status, 401);
  t.is(res.body.error.code, 'unauthenticated');
  t.true('details' in res.body.error);
});

test('sign-in sets an HttpOnly SameSite=Strict cookie and returns the CSRF token; GET /session returns it too', async (t) => {
  const client = ApiClient.anonymous(tk.url);
  const res = await client.request('POST', '/session', { email: 'ADMIN@acme.test', password: PASSWORD });
  t.is(res.status, 200);
  t.is(res.body.user.email, 'admin@acme.test');
  t.regex(res.body.csrfToken, /^[A-Za-z0-9_-]{43}$/);
  t.is(res.headers.get('cache-control'), 'no-store');
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('keyport.sid='))!;
  t.regex(cookie, /httponly/i);
  t.regex(cookie, /samesite=strict/i);
  t.false(JSON.stringify(res.body).includes(PASSWORD));
  const session = await client.get('/session');
  t.is(session.status, 200);
  t.is(session.body.csrfToken, res.body.csrfToken);
  t.is(session.body.user.email, 'admin@acme.test');
});

test('wrong password and unknown email: the same 401', async (t) => {
  const a = await ApiClient.anonymous(tk.url).request('POST', '/session', { email: 'admin@acme.test', password: 'wrong password!' });
  const b = await ApiClient.anonymous(tk.url).request('POST', '/session', { email: 'nobody@acme.test', password: 'wrong password!' });
  t.is(a.status, 401);
  t.is(b.status, 401);
  t.deepEqual(a.body, b.body);
  t.is(a.headers.get('set-cookie'), null);
});

test('a state-changing request with the cookie but without (or with a wrong) CSRF token is rejected and changes nothing', async (t) => {
  const client = await ApiClient.signIn(tk.url, 'admin@acme.test');
  const missing = await client.request('POST', `/accounts/${tenant.accountId}/keypairs`, { name: 'csrf' }, { csrf: false });
  t.is(missing.status, 403);
  t.is(missing.body.error.code, 'csrf_failed');
  const wrong = await client.request('POST', `/accounts/${tenant.accountId}/keypairs`, { name: 'csrf' }, { csrf: false, headers: { 'x-csrf-token': 'x'.repeat(43) } });
  t.is(wrong.status, 403);
  const rename = await client.request('PATCH', `/accounts/${tenant.accountId}`, { name: 'Evil' }, { csrf: false });
  t.is(rename.status, 403);
  // None of the refused requests created a keypair (other tests here add keypairs to this account meanwhile: compare names, not totals).
  const after = await client.get(`/accounts/${tenant.accountId}/keypairs`);
  t.is(after.status, 200);
  t.false((after.body.items as { name: string }[]).some((k) => k.name === 'csrf'));
  t.is((await client.get(`/accounts/${tenant.accountId}`)).body.name, 'Acme');
  // Another session's token does not fit this session.
  const other = await ApiClient.signIn(tk.url, 'admin@acme.test');
  const crossed = await client.request('POST', `/accounts/${tenant.accountId}/keypairs`, { name: 'csrf' }, { csrf: false, headers: { 'x-csrf-token': other.csrf! } });
  t.is(crossed.status, 403);
  // With the token it works.
  t.is((await client.post(`/accounts/${tenant.accountId}/keypairs`, { name: 'csrf-ok' })).status, 201);
});

test('a session write from another site (Origin, Origin: null, Sec-Fetch-Site) is refused even with the right CSRF token, and changes nothing', async (t) => {
  const client = await ApiClient.signIn(tk.url, 'admin@acme.test');
  const create = `/accounts/${tenant.accountId}/keypairs`;
  const crossSite: Record<string, string>[] = [
    { origin: 'https://evil.example' },
    { origin: 'null' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site', origin: 'https://sibling.localhost' },
    // A port is part of the origin.
    { origin: new URL(tk.url).origin.replace(/:(\d+)$/, (_, port: string) => `:${Number(port) + 1}`) },
  ];
  for (const headers of crossSite) {
    const res = await client.request('POST', create, { name: 'cross-site' }, { headers });
    t.is(res.status, 403, JSON.stringify(headers));
    t.is(res.body.error.code, 'cross_site_request');
    t.regex(res.body.error.message, /another site/);
  }
  t.is((await client.request('PATCH', `/accounts/${tenant.accountId}`, { name: 'Evil' }, { headers: { origin: 'https://evil.example' } })).status, 403);
  t.is((await client.request('DELETE', '/session', undefined, { headers: { origin: 'null' } })).status, 403);
  // Nothing changed: no keypair, the same name, the session still works.
  const after = await client.get(create);
  t.false((after.body.items as { name: string }[]).some((k) => k.name === 'cross-site'));
  t.is((await client.get(`/accounts/${tenant.accountId}`)).body.name, 'Acme');
  // Reads are not refused (other sites cannot read the answers anyway).
  t.is((await client.request('GET', create, undefined, { headers: { origin: 'https://evil.example' } })).status, 200);

  // Keyport's own pages (same origin), and clients that send no Origin (curl, scripts), are served.
  const own = await client.request('POST', create, { name: 'same-origin' }, { headers: { origin: new URL(tk.url).origin, 'sec-fetch-site': 'same-origin' } });
  t.is(own.status, 201);
  t.is((await client.request('POST', create, { name: 'no-origin' })).status, 201);
});

test('a bearer token is not subject to the cross-site check (browsers do not send it by themselves)', async (t) => {
  const manager = await tk.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'ci-origin', scopes: ['keyport:manage'] }, 'system');
  const token = await getToken(tk.url, { keyId: manager.keypair.keyId, secret: manager.secret, resource: ADMIN_API_RESOURCE });
  const res = await ApiClient.withToken(tk.url, token).request('POST', `/accounts/${tenant.accountId}/keypairs`, { name: 'bearer-from-a-page' }, { headers: { origin: 'https://tool.example', 'sec-fetch-site': 'cross-site' } });
  t.is(res.status, 201);
});

test('sign-out ends the session (it needs the CSRF token)', async (t) => {
  const client = await ApiClient.signIn(tk.url, 'admin@acme.test');
  const cookie = client.cookie;
  t.is((await client.request('DELETE', '/session', undefined, { csrf: false })).status, 403);
  t.is((await client.delete('/session')).status, 204);
  const replay = new ApiClient(tk.url, { cookie, csrf: client.csrf });
  t.is((await replay.get('/accounts')).status, 401);
});

test('a forged or unknown session cookie is 401', async (t) => {
  const forged = new ApiClient(tk.url, { cookie: 'keyport.sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
  t.is((await forged.get('/accounts')).status, 401);
});

test('bearer token: only for the admin API audience, with keyport:read or keyport:manage, while the keypair is usable', async (t) => {
  const { keypairs } = tk.keyport.domain;
  const manager = await keypairs.create({ accountId: tenant.accountId }, { name: 'terraform', scopes: ['keyport:manage', 'keyport:read'] }, 'system');
  const creds = { keyId: manager.keypair.keyId, secret: manager.secret };
  const token = await getToken(tk.url, { ...creds, resource: ADMIN_API_RESOURCE });
  const api = ApiClient.withToken(tk.url, token);
  const accounts = await api.get('/accounts');
  t.is(accounts.status, 200);
  t.deepEqual(accounts.body.items.map((a: { id: string }) => a.id), [tenant.accountId]);
  const session = await api.get('/session');
  t.like(session.body, { keypair: { keyId: creds.keyId, accountId: tenant.accountId }, csrfToken: null });
  // No CSRF token needed with a bearer token.
  t.is((await api.post(`/environments/${tenant.productionId}/keypairs`, { name: 'from-terraform' })).status, 201);

  // A token for another audience is refused.
  const other = await getToken(tk.url, creds);
  t.is((await ApiClient.withToken(tk.url, other).get('/accounts')).status, 401);
  // Garbage, and a token in the wrong scheme.
  t.is((await ApiClient.withToken(tk.url, 'not.a.jwt').get('/accounts')).status, 401);
  t.is((await ApiClient.anonymous(tk.url).request('GET', '/accounts', undefined, { headers: { authorization: basic(creds.keyId, creds.secret) } })).status, 401);

  // Revoked.
  const revoked = await getToken(tk.url, { ...creds, resource: ADMIN_API_RESOURCE });
  const rev = await fetch(`${tk.url}/oauth/revoke`, { method: 'POST', headers: { authorization: basic(creds.keyId, creds.secret), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: revoked }) });
  t.is(rev.status, 200);
  t.is((await ApiClient.withToken(tk.url, revoked).get('/accounts')).status, 401);

  // Disabled keypair: its tokens stop working at once, and for good; once enabled it gets new ones.
  await keypairs.setEnabled(creds.keyId, false, 'system');
  t.is((await api.get('/accounts')).status, 401);
  await keypairs.setEnabled(creds.keyId, true, 'system');
  t.is((await api.get('/accounts')).status, 401);
  const renewed = ApiClient.withToken(tk.url, await getToken(tk.url, { ...creds, resource: ADMIN_API_RESOURCE }));
  t.is((await renewed.get('/accounts')).status, 200);

  // A keypair without keyport:* scopes gets 403.
  const plain = await keypairs.create({ accountId: tenant.accountId }, { name: 'plain', scopes: ['orders:read'] }, 'system');
  const plainToken = await getToken(tk.url, { keyId: plain.keypair.keyId, secret: plain.secret, resource: ADMIN_API_RESOURCE });
  const res = await ApiClient.withToken(tk.url, plainToken).get('/accounts');
  t.is(res.status, 403);
  t.is(res.body.error.code, 'forbidden');
});

test('sign-in failures are throttled per email and address, even for the right password', async (t) => {
  const client = ApiClient.anonymous(tk.url);
  for (let i = 0; i < 5; i++) {
    t.is((await client.request('POST', '/session', { email: 'throttled@acme.test', password: `wrong-${i}-password` })).status, 401);
  }
  const blocked = await client.request('POST', '/session', { email: 'throttled@acme.test', password: PASSWORD });
  t.is(blocked.status, 429);
  t.is(blocked.body.error.code, 'rate_limited');
  t.truthy(blocked.headers.get('retry-after'));
  // Kept in the database (rate-limiter-flexible's MongoDB store, on FerretDB here).
  const stored = await tk.keyport.database.connection.collection('rate_limits').countDocuments({});
  t.true(stored > 0);
  // Other users are not affected.
  t.is((await client.request('POST', '/session', { email: 'admin@acme.test', password: PASSWORD })).status, 200);
});

test('sign-ins and failures are in the audit trail, without the password', async (t) => {
  await ApiClient.signIn(tk.url, 'admin@acme.test');
  await ApiClient.anonymous(tk.url).request('POST', '/session', { email: 'admin@acme.test', password: 'not the password' });
  const events = (await tk.keyport.domain.audit.page({}, { limit: 500 })).items;
  t.true(events.some((e) => e.action === 'user.signed_in'));
  t.true(events.some((e) => e.action === 'user.sign_in_failed' && e.details.email === 'admin@acme.test'));
  t.false(JSON.stringify(events).includes(PASSWORD));
  t.false(JSON.stringify(events).includes('not the password'));
});
