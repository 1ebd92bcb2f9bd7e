// Fetching external issuers' keys (src/oauth/issuer-keys.ts) from a local OIDC
// issuer over HTTP: discovery then JWKS, the cache, the rate-limited refetch on
// an unknown kid, the address policy (loopback only when allowed), redirects
// not followed, a discovery document naming another issuer, and keys Keyport
// would refuse as uploads (small RSA, HMAC) left out.
import { createServer, type Server } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import test from 'ava';
import { exportJWK } from 'jose';
import { IssuerKeys, IssuerUnavailable } from '../src/oauth/issuer-keys.ts';
import { LocalOidcIssuer } from './helpers/oidc-issuer.ts';

const policy = { allowLoopback: true, allowPrivateNetworks: false, fetchTimeoutMs: 2000 };

let issuer: LocalOidcIssuer;
test.before(async () => {
  issuer = await LocalOidcIssuer.start();
});
test.after.always(async () => {
  await issuer?.close();
});

/** A one-route JSON server: `answer(path)` gives status and body; the issuer URL is its own address. */
async function jsonServer(answer: (path: string, url: string) => [number, unknown, Record<string, string>?]): Promise<{ url: string; server: Server }> {
  let url = '';
  const server = createServer((req, res) => {
    const [status, body, headers] = answer(req.url ?? '/', url);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { url, server };
}

test('keys come from discovery then the JWKS, are cached, and a kid the cache lacks refetches at most once per cooldown', async (t) => {
  let now = 1_000_000;
  const keys = new IssuerKeys(policy, () => now);
  const before = issuer.jwksFetches;
  const first = await keys.keysFor(issuer.url, issuer.kid);
  t.is(first.length, 1);
  t.is(first[0]!.kid, issuer.kid);
  t.deepEqual(first[0]!.algs, ['ES256']);
  await keys.keysFor(issuer.url, issuer.kid);
  t.is(issuer.jwksFetches - before, 1, 'served from the cache');
  // An unknown kid within the cooldown: no refetch (a token cannot make Keyport hammer the issuer).
  await keys.keysFor(issuer.url, 'rotated-kid');
  t.is(issuer.jwksFetches - before, 1);
  now += 31_000;
  await keys.keysFor(issuer.url, 'rotated-kid');
  t.is(issuer.jwksFetches - before, 2, 'after the cooldown, an unknown kid refetches');
  await keys.keysFor(issuer.url, 'rotated-kid');
  t.is(issuer.jwksFetches - before, 2);
  // Old keys are refetched.
  now += 11 * 60_000;
  await keys.keysFor(issuer.url, issuer.kid);
  t.is(issuer.jwksFetches - before, 3);
});

test('an issuer that is down: IssuerUnavailable, and no new attempt within the cooldown; keys fetched before are still used', async (t) => {
  let now = 1_000_000;
  const keys = new IssuerKeys(policy, () => now);
  const down = await LocalOidcIssuer.start();
  try {
    down.up = false;
    await t.throwsAsync(keys.keysFor(down.url, undefined), { instanceOf: IssuerUnavailable, message: /answered 503/ });
    down.up = true;
    await t.throwsAsync(keys.keysFor(down.url, undefined), { instanceOf: IssuerUnavailable }, 'within the cooldown: not asked again');
    now += 31_000;
    t.is((await keys.keysFor(down.url, undefined)).length, 1);
    down.up = false;
    now += 11 * 60_000;
    t.is((await keys.keysFor(down.url, undefined)).length, 1, 'a short outage: the keys fetched before');
  } finally {
    await down.close();
  }
});

test('loopback is refused unless allowed; so is http to a public address', async (t) => {
  const strict = new IssuerKeys({ ...policy, allowLoopback: false });
  await t.throwsAsync(strict.keysFor(issuer.url, undefined), { instanceOf: IssuerUnavailable, message: /loopback/ });
  await t.throwsAsync(strict.keysFor('http://localhost:1', undefined), { instanceOf: IssuerUnavailable, message: /loopback/ });
  await t.throwsAsync(strict.keysFor('http://93.184.215.14', undefined), { instanceOf: IssuerUnavailable, message: /https/ });
});

test('a redirect is not followed; a discovery document naming another issuer is refused; unusable keys are left out', async (t) => {
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  const good = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const { url, server } = await jsonServer((path, self) => {
    if (path === '/redirect/.well-known/openid-configuration') return [302, {}, { location: `${issuer.url}/.well-known/openid-configuration` }];
    if (path === '/other/.well-known/openid-configuration') return [200, { issuer: issuer.url, jwks_uri: `${issuer.url}/jwks` }];
    if (path === '/.well-known/openid-configuration') return [200, { issuer: self, jwks_uri: `${self}/jwks` }];
    return [200, { keys: [jwks.small, { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }, jwks.good, { ...jwks.good, d: 'AAAA', kid: 'private' }] }];
  });
  const jwks = { small: { ...(await exportJWK(small)), kid: 'small' }, good: { ...(await exportJWK(good)), kid: 'good' } };
  try {
    const keys = new IssuerKeys(policy);
    await t.throwsAsync(keys.keysFor(`${url}/redirect`, undefined), { instanceOf: IssuerUnavailable, message: /answered 302/ });
    await t.throwsAsync(keys.keysFor(`${url}/other`, undefined), { instanceOf: IssuerUnavailable, message: /names another issuer/ });
    t.deepEqual((await keys.keysFor(url, undefined)).map((k) => k.kid), ['good']);
  } finally {
    server.close();
  }
});

test('a fetch is bounded in time and in size', async (t) => {
  const slow = createServer(() => { /* never answers */ });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  const slowAddress = slow.address();
  const big = await jsonServer((path, self) => (path === '/.well-known/openid-configuration'
    ? [200, { issuer: self, jwks_uri: `${self}/jwks` }]
    : [200, { keys: [], padding: 'x'.repeat(300 * 1024) }]));
  try {
    const keys = new IssuerKeys({ ...policy, fetchTimeoutMs: 300 });
    const slowUrl = `http://127.0.0.1:${typeof slowAddress === 'object' && slowAddress ? slowAddress.port : 0}`;
    await t.throwsAsync(keys.keysFor(slowUrl, undefined), { instanceOf: IssuerUnavailable, message: /did not answer within 300 ms/ });
    await t.throwsAsync(keys.keysFor(big.url, undefined), { instanceOf: IssuerUnavailable, message: /sent more than 262144 bytes/ });
  } finally {
    slow.closeAllConnections();
    slow.close();
    big.server.close();
  }
});
