// Keyport behind a path (issuer http://127.0.0.1:<port>/auth, as behind a proxy
// at https://example.com/auth): everything is served under the path, the RFC 8414
// metadata also at its inserted location, every published URL answers, and
// nothing else is served outside the path but the operational endpoints.
import { request } from 'node:http';
import test from 'ava';
import { createVerifier } from 'keyport/verify';
import * as client from 'openid-client';
import { freePort } from '../../src/net-ports.ts';
import { accountOwner, ApiClient, createTenant, createUser, PASSWORD } from '../helpers/api.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { seedKeypair } from '../helpers/oauth.ts';
import { hiddenFields, UiClient } from '../helpers/ui.ts';

let tk: TestKeyport;
let origin: string;
let issuer: string;
let tenant: Awaited<ReturnType<typeof createTenant>>;

test.before(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  issuer = `${origin}/auth`;
  // Configured with a trailing slash: Keyport drops it.
  tk = await startTestKeyport({ overrides: { server: { host: '127.0.0.1', port, issuer: `${issuer}/` } } });
  tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
});
test.after.always(async () => {
  await tk?.close();
});

const insecure = { execute: [client.allowInsecureRequests] };

/** Endpoints that only take POST: asked with POST (GET is not how they answer). */
const POST_ONLY = new Set(['token_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'pushed_authorization_request_endpoint']);

async function metadataAt(path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${origin}${path}`);
  if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
  return response.json() as Promise<Record<string, unknown>>;
}

test('the configured issuer loses its trailing slash; the server\'s own URL and its service document are under the path', async (t) => {
  t.is(tk.keyport.issuer, issuer);
  t.is(tk.keyport.url, issuer);
  const service = await (await fetch(issuer, { headers: { accept: 'application/json' } })).json() as Record<string, string>;
  t.like(service, {
    issuer,
    discovery: `${origin}/.well-known/oauth-authorization-server/auth`,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/oauth/jwks`,
  });
  t.is((await fetch(service.discovery!)).status, 200);
});

test('stock openid-client discovers the issuer both ways: OIDC (appended) and OAuth 2 (RFC 8414, inserted)', async (t) => {
  const seed = await seedKeypair(tk.keyport);
  for (const algorithm of ['oidc', 'oauth2'] as const) {
    const config = await client.discovery(new URL(issuer), seed.keyId, seed.secret, undefined, { algorithm, ...insecure });
    const metadata = config.serverMetadata();
    t.is(metadata.issuer, issuer, algorithm);
    t.is(metadata.token_endpoint, `${issuer}/oauth/token`, algorithm);
    t.is(metadata.jwks_uri, `${issuer}/oauth/jwks`, algorithm);
    t.is(metadata.introspection_endpoint, `${issuer}/oauth/introspect`, algorithm);
    t.is(metadata.revocation_endpoint, `${issuer}/oauth/revoke`, algorithm);
  }
});

test('token, introspection and revocation through the advertised URLs (openid-client), tokens verify against the advertised JWKS', async (t) => {
  const seed = await seedKeypair(tk.keyport, { owner: 'account', scopes: ['orders:read', 'keyport:introspect'] });
  const config = await client.discovery(new URL(issuer), seed.keyId, seed.secret, undefined, { algorithm: 'oauth2', ...insecure });
  const tokens = await client.clientCredentialsGrant(config, { scope: 'orders:read' });
  t.is(tokens.token_type, 'bearer');
  const introspected = await client.tokenIntrospection(config, tokens.access_token);
  t.true(introspected.active);
  t.is(introspected.iss, issuer);
  t.is(introspected.client_id, seed.keyId);

  // The resource-server kit finds the JWKS and introspection endpoint from the inserted metadata.
  const verifier = createVerifier({ issuer, audience: 'https://api.example.com', tenants: { accounts: [seed.accountId] }, introspection: { clientId: seed.keyId, clientSecret: seed.secret } });
  const verified = await verifier.verify(tokens.access_token);
  t.is(verified.claims.iss, issuer);

  await client.tokenRevocation(config, tokens.access_token);
  t.false((await client.tokenIntrospection(config, tokens.access_token)).active);
  const refused = await t.throwsAsync(verifier.verify(tokens.access_token));
  t.is((refused as Error & { error?: string }).error, 'invalid_token');
});

test('every URL in both metadata documents answers (none is a 404), and the documents agree', async (t) => {
  const inserted = await metadataAt('/.well-known/oauth-authorization-server/auth');
  const appended = await metadataAt('/auth/.well-known/openid-configuration');
  t.deepEqual(inserted, appended);
  // The other spellings clients use: OAuth appended, OpenID inserted (Spring Security tries it).
  t.deepEqual(await metadataAt('/auth/.well-known/oauth-authorization-server'), inserted);
  t.deepEqual(await metadataAt('/.well-known/openid-configuration/auth'), inserted);

  const urls = Object.entries(inserted).filter(([key, value]) => typeof value === 'string' && (key === 'issuer' || key.endsWith('_endpoint') || key.endsWith('_uri') || key === 'service_documentation'));
  t.true(urls.length >= 8, `found ${urls.map(([k]) => k).join(', ')}`);
  for (const [key, value] of urls) {
    const url = value as string;
    t.true(url === issuer || url.startsWith(`${issuer}/`), `${key}: ${url} is under the issuer`);
    const response = await fetch(url, { method: POST_ONLY.has(key) ? 'POST' : 'GET', redirect: 'manual' });
    t.not(response.status, 404, `${key}: ${url}`);
    t.true(response.status < 500, `${key}: ${url} answered ${response.status}`);
  }
  const jwks = await (await fetch(inserted.jwks_uri as string)).json() as { keys: unknown[] };
  t.true(jwks.keys.length > 0);
});

test('nothing is served outside the issuer path, except the metadata locations and the operational endpoints', async (t) => {
  const seed = await seedKeypair(tk.keyport);
  const outside = [
    '/', '/oauth/jwks', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server',
    '/.well-known/oauth-authorization-server/other', '/api/v1/openapi.json', '/ui/sign-in', '/ui/static/app.css',
    '/authx/oauth/jwks', '/authx', '/x/auth/oauth/jwks',
  ];
  for (const path of outside) t.is((await fetch(`${origin}${path}`, { redirect: 'manual' })).status, 404, path);
  const token = await fetch(`${origin}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: seed.keyId, client_secret: seed.secret }),
  });
  t.is(token.status, 404);
  t.false('access_token' in (await token.json() as object));
  // Orchestrators probe the process directly: the operational endpoints answer at the root too.
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    t.is((await fetch(`${origin}${path}`)).status, 200, path);
    t.is((await fetch(`${issuer}${path}`)).status, 200, `/auth${path}`);
  }
});

test('the web UI under the path: redirects, links, assets and cookies all carry it', async (t) => {
  const ui = new UiClient(origin);
  const home = await ui.get('/auth');
  t.is(home.status, 302);
  t.is(home.location, '/auth/ui/');
  t.is((await ui.get('/auth/ui/')).location, '/auth/ui/sign-in');
  const target = `/auth/ui/accounts/${tenant.accountId}`;
  const bounced = await ui.get(target);
  t.is(bounced.location, `/auth/ui/sign-in?next=${encodeURIComponent(`/ui/accounts/${tenant.accountId}`)}`);

  const signInPage = await ui.get(bounced.location!);
  t.is(signInPage.status, 200);
  const links = [...signInPage.html.matchAll(/(?:href|action|src)="([^"]+)"/g)].map((m) => m[1]!);
  t.true(links.length >= 4);
  for (const link of links) t.true(link.startsWith('/auth/') || link.startsWith('#'), link); // '#main': the skip link
  for (const asset of links.filter((l) => l.includes('/static/'))) t.is((await ui.get(asset)).status, 200, asset);
  t.true(signInPage.setCookies.some((c) => c.startsWith('keyport.form=') && /path=\/auth\/ui(;|$)/i.test(c)));

  const signedIn = await ui.post('/auth/ui/sign-in', { ...hiddenFields(signInPage.html, '/auth/ui/sign-in'), email: 'admin@acme.test', password: PASSWORD });
  t.is(signedIn.status, 303);
  t.is(signedIn.location, target, 'back to the page asked for, under the path');
  t.true(signedIn.setCookies.some((c) => c.startsWith('keyport.ui=') && /path=\/auth\/ui(;|$)/i.test(c)));

  const account = await ui.get(target);
  t.is(account.status, 200);
  const accountLinks = [...account.html.matchAll(/(?:href|action|src)="([^"]+)"/g)].map((m) => m[1]!);
  for (const link of accountLinks) t.true(link.startsWith('/auth/') || link.startsWith('#'), link);
  const keypairs = `/auth/ui/accounts/${tenant.accountId}/keypairs`;
  t.true(accountLinks.includes(keypairs));
  t.is((await ui.get(keypairs)).status, 200);

  // A form posted under the path: created, then the redirect stays under it.
  const created = await ui.submit(`${keypairs}/new`, keypairs, { name: 'ui under a path', scopes: ['reports:read'] });
  t.is(created.status, 200);
  t.regex(created.html, new RegExp(`${issuer}/oauth/token`));
  const signOut = await ui.post('/auth/ui/sign-out', hiddenFields(account.html, '/auth/ui/sign-out'));
  t.is(signOut.location, '/auth/ui/sign-in?signed-out=1');
});

test('the admin API under the path: session cookie scoped to it, OpenAPI servers name it', async (t) => {
  const api = await ApiClient.signIn(issuer, 'admin@acme.test');
  const session = await fetch(`${issuer}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'admin@acme.test', password: PASSWORD }),
  });
  const cookie = session.headers.getSetCookie().find((c) => c.startsWith('keyport.sid='))!;
  t.regex(cookie, /path=\/auth(;|$)/i);
  const created = await api.post(`/accounts/${tenant.accountId}/keypairs`, { name: 'api under a path', scopes: ['reports:read'] });
  t.is(created.status, 201);
  const document = await (await fetch(`${issuer}/api/v1/openapi.json`)).json() as { servers: { url: string }[]; paths: Record<string, unknown> };
  t.deepEqual(document.servers, [{ url: '/auth' }]);
  t.truthy(document.paths['/api/v1/accounts']);
});

/** A request as a proxy forwards it: its own Host header (fetch cannot set Host). */
function proxiedRequest(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const data = body === undefined ? '' : JSON.stringify(body);
  const sent = { ...headers, host: 'keyport.internal:3000', ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)) }) };
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { method, headers: sent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

test('behind a proxy (its own Host), the metadata still names the issuer\'s URLs: they come from the issuer, never from Host', async (t) => {
  const metadata = await proxiedRequest('GET', '/.well-known/oauth-authorization-server/auth', {});
  t.is(metadata.status, 200);
  t.is(metadata.body.token_endpoint, `${issuer}/oauth/token`);
  t.is(metadata.body.jwks_uri, `${issuer}/oauth/jwks`);
  t.false(JSON.stringify(metadata.body).includes('keyport.internal'));
});

test('behind a proxy (its own Host), the API takes session writes from the issuer\'s origin and refuses other sites', async (t) => {
  const api = await ApiClient.signIn(issuer, 'admin@acme.test');
  const session = { cookie: api.cookie!, 'x-csrf-token': api.csrf! };
  const path = `/auth/api/v1/accounts/${tenant.accountId}/keypairs`;
  const fromIssuer = await proxiedRequest('POST', path, { ...session, origin, 'sec-fetch-site': 'same-origin' }, { name: 'from the issuer origin' });
  t.is(fromIssuer.status, 201);
  for (const headers of [{ origin: 'https://evil.example' }, { origin: 'null' }, { origin: 'http://keyport.internal:3001' }, { origin, 'sec-fetch-site': 'cross-site' }] as Record<string, string>[]) {
    const refused = await proxiedRequest('POST', path, { ...session, ...headers }, { name: 'from elsewhere' });
    t.is(refused.status, 403, JSON.stringify(headers));
    t.is(refused.body.error.code, 'cross_site_request');
  }
  const list = await api.get(`/accounts/${tenant.accountId}/keypairs`);
  t.false((list.body.items as { name: string }[]).some((k) => k.name === 'from elsewhere'));
});
