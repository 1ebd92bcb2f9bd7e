// The resource-server kit (keyport/verify) against a real Keyport over HTTP:
// real tokens, and crafted ones (Keyport's own signing key with a wrong typ or
// issuer, foreign keys, other algorithms) that must be refused for the right
// reason; the Koa middleware through the protected demo API, the
// Express-style middleware through node:http; revocation through introspection.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { errors, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { createVerifier, expressMiddleware, TokenError, type ExpressLikeRequest, type FetchLike, type KeyportAccessTokenClaims, type Verifier, type VerifierOptions } from 'keyport/verify';
import { startProtectedApi, type RunningProtectedApi } from '../examples/protected-api/server.ts';
import { basic, getToken, seedKeypair } from './helpers/oauth.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';

const AUDIENCE = 'https://api.example.com';
const OTHER_AUDIENCE = 'https://other.example.com';

let keyport: TestKeyport;
let client: { keyId: string; secret: string; accountId: string; environmentId: string };
/** An account of someone else, with a keypair of the same scopes: its tokens carry the same audience. */
let stranger: { keyId: string; secret: string; accountId: string; environmentId: string };
let introspector: { keyId: string; secret: string };
let signingJwk: JWK & { kid: string };
let plainApi: RunningProtectedApi;
let strictApi: RunningProtectedApi;
let expressApi: { url: string; server: Server };

test.before(async () => {
  keyport = await startTestKeyport({ overrides: { tokens: { ttlSeconds: 600, defaultAudience: AUDIENCE, resources: [AUDIENCE, OTHER_AUDIENCE] } } });
  client = await seedKeypair(keyport.keyport, { scopes: ['orders:read', 'orders:write'] });
  stranger = await seedKeypair(keyport.keyport, { owner: 'account', scopes: ['orders:read', 'orders:write'] });
  // The API's own keypair, in the same account, allowed to introspect that account's tokens.
  const issued = await keyport.keyport.domain.keypairs.create({ accountId: client.accountId }, { name: 'orders-api', scopes: ['keyport:introspect'] }, 'system');
  introspector = { keyId: issued.keypair.keyId, secret: issued.secret };
  // Keyport's own private signing key, to craft tokens that are validly signed but wrong otherwise.
  const { signingKeys } = keyport.keyport.domain;
  const keys = await signingKeys.material(await signingKeys.current());
  signingJwk = keys.privateJwks[0] as JWK & { kid: string }; // the signing key comes first

  const tenants = { accounts: [client.accountId] };
  plainApi = await startProtectedApi({ issuer: keyport.url, tenants, port: 0 });
  strictApi = await startProtectedApi({ issuer: keyport.url, tenants, port: 0, introspection: { clientId: introspector.keyId, clientSecret: introspector.secret } });

  const verifier = createVerifier({ issuer: keyport.url, audience: AUDIENCE, tenants, requiredScopes: ['orders:read'], realm: 'express-api' });
  const auth = expressMiddleware(verifier);
  const server = createServer((req, res) => {
    auth(req, res, (err?: unknown) => {
      res.setHeader('content-type', 'application/json');
      if (err) {
        res.statusCode = 500;
        res.end('{}');
        return;
      }
      const { auth: verified } = req as ExpressLikeRequest;
      res.end(JSON.stringify({ client_id: verified?.clientId, scopes: verified?.scopes }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  expressApi = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
});

test.after.always(async () => {
  await plainApi?.close();
  await strictApi?.close();
  if (expressApi) await new Promise<void>((resolve) => {
    expressApi.server.close(() => resolve());
    expressApi.server.closeIdleConnections();
  });
  await keyport?.close();
});

function token(options: { scope?: string; resource?: string; keypair?: { keyId: string; secret: string } } = {}): Promise<string> {
  const { keypair = client, ...rest } = options;
  return getToken(keyport.url, { keyId: keypair.keyId, secret: keypair.secret, ...rest });
}

/** Claims like Keyport's own, for crafted tokens. */
function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: keyport.url, sub: client.keyId, client_id: client.keyId, aud: AUDIENCE, scope: 'orders:read', acc: client.accountId, env: client.environmentId, iat: now, exp: now + 300, jti: `crafted-${Math.random().toString(36).slice(2)}`, ...overrides };
}

async function craft(payload: JWTPayload, header: { alg: string; typ?: string; kid?: string }, key: CryptoKey | Uint8Array): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

async function keyportKey(): Promise<CryptoKey> {
  return importJWK(signingJwk, 'ES256') as Promise<CryptoKey>;
}

/** A verifier of the client's account (unless `tenants` says otherwise). */
function verifier(extra: Partial<VerifierOptions> = {}): Verifier {
  const { tenants = { accounts: [client.accountId] }, ...rest } = extra;
  return createVerifier({ issuer: keyport.url, audience: AUDIENCE, tenants, ...rest });
}

/** Asserts a refusal and returns it. */
async function refused(t: ExecutionContext, promise: Promise<unknown>, status: TokenError['status'], error: TokenError['error']): Promise<TokenError> {
  const err = await t.throwsAsync(promise, { instanceOf: TokenError });
  t.is(err.status, status, err.message);
  t.is(err.error, error);
  return err;
}

function countingFetch(): { fetch: FetchLike; urls: string[] } {
  const urls: string[] = [];
  return { urls, fetch: (url, init) => { urls.push(url); return fetch(url, init); } };
}

// ---- offline validation ---------------------------------------------------

test('accepts a real token and exposes its claims and scopes', async (t) => {
  const result = await verifier({ requiredScopes: ['orders:read'] }).verify(await token());
  t.is(result.clientId, client.keyId);
  t.is(result.claims.iss, keyport.url);
  t.is(result.claims.acc, client.accountId);
  t.deepEqual(result.scopes.sort(), ['orders:read', 'orders:write']);
});

test('refuses a real token for another audience', async (t) => {
  const err = await refused(t, verifier().verify(await token({ resource: OTHER_AUDIENCE })), 401, 'invalid_token');
  t.is((err.cause as errors.JWTClaimValidationFailed).claim, 'aud');
  // …which the API it was meant for accepts.
  await t.notThrowsAsync(verifier({ audience: [OTHER_AUDIENCE] }).verify(await token({ resource: OTHER_AUDIENCE })));
});

test('refuses a token signed by Keyport\'s key for another issuer', async (t) => {
  const forged = await craft(claims({ iss: 'https://evil.example.com' }), { alg: 'ES256', typ: 'at+jwt', kid: signingJwk.kid }, await keyportKey());
  const err = await refused(t, verifier().verify(forged), 401, 'invalid_token');
  t.is((err.cause as errors.JWTClaimValidationFailed).claim, 'iss');
});

test('refuses a token signed by Keyport\'s key whose typ is not at+jwt (e.g. an ID token)', async (t) => {
  const key = await keyportKey();
  for (const typ of ['JWT', undefined]) {
    const header = typ ? { alg: 'ES256', typ, kid: signingJwk.kid } : { alg: 'ES256', kid: signingJwk.kid };
    const err = await refused(t, verifier().verify(await craft(claims(), header, key)), 401, 'invalid_token');
    t.is((err.cause as errors.JWTClaimValidationFailed).claim, 'typ', `typ ${typ}`);
  }
  // The same token with the right typ passes: the refusals above are for typ alone.
  await t.notThrowsAsync(verifier().verify(await craft(claims(), { alg: 'ES256', typ: 'at+jwt', kid: signingJwk.kid }, key)));
});

test('refuses every algorithm but ES256 before looking up a key', async (t) => {
  const { urls, fetch } = countingFetch();
  const v = verifier({ fetch });
  const rsa = await generateKeyPair('RS256');
  const p384 = await generateKeyPair('ES384');
  const publicJwk = JSON.stringify({ kty: signingJwk.kty, crv: signingJwk.crv, x: signingJwk.x, y: signingJwk.y });
  const tokens = [
    await craft(claims(), { alg: 'RS256', typ: 'at+jwt', kid: signingJwk.kid }, rsa.privateKey),
    await craft(claims(), { alg: 'ES384', typ: 'at+jwt', kid: signingJwk.kid }, p384.privateKey),
    // Algorithm confusion: HMAC keyed with the public key.
    await craft(claims(), { alg: 'HS256', typ: 'at+jwt', kid: signingJwk.kid }, new TextEncoder().encode(publicJwk)),
    // Unsecured JWT.
    `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`,
  ];
  for (const forged of tokens) {
    const err = await refused(t, v.verify(forged), 401, 'invalid_token');
    t.true(err.cause instanceof errors.JOSEAlgNotAllowed, String(err.cause));
  }
  t.deepEqual(urls, [], 'no metadata or JWKS request for a token with a refused algorithm');
});

test('refuses a token signed by a foreign ES256 key, and an unknown kid refetches the JWKS at most once per cooldown', async (t) => {
  const foreign = await generateKeyPair('ES256');
  const { urls, fetch } = countingFetch();
  const v = verifier({ fetch, jwks: { cooldownMs: 60_000 } });
  // Same kid as Keyport's key: the signature check itself fails.
  const sameKid = await craft(claims(), { alg: 'ES256', typ: 'at+jwt', kid: signingJwk.kid }, foreign.privateKey);
  const err = await refused(t, v.verify(sameKid), 401, 'invalid_token');
  t.true(err.cause instanceof errors.JWSSignatureVerificationFailed, String(err.cause));
  // Unknown kids: refused, and a burst of them does not turn into a burst of JWKS requests.
  const kid = `unknown-${(await exportJWK(foreign.publicKey)).x}`;
  for (let i = 0; i < 20; i++) {
    const e = await refused(t, v.verify(await craft(claims(), { alg: 'ES256', typ: 'at+jwt', kid }, foreign.privateKey)), 401, 'invalid_token');
    t.true(e.cause instanceof errors.JWKSNoMatchingKey);
  }
  const jwksRequests = urls.filter((url) => url.endsWith('/oauth/jwks'));
  t.is(urls.filter((url) => url.includes('/.well-known/')).length, 1, 'metadata fetched once');
  t.is(jwksRequests.length, 1, `JWKS fetched once within the cooldown: ${urls.join(' ')}`);
  // Real tokens keep working from the cache.
  await t.notThrowsAsync(v.verify(await token()));
  t.deepEqual(urls.map((url) => new URL(url).pathname), ['/.well-known/oauth-authorization-server', '/oauth/jwks', '/oauth/revocations'], 'and the revocation feed, once a token passed the offline checks');
});

test('applies the clock tolerance to exp', async (t) => {
  const key = await keyportKey();
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256', typ: 'at+jwt', kid: signingJwk.kid };
  const justExpired = await craft(claims({ iat: now - 600, exp: now - 10 }), header, key);
  await t.notThrowsAsync(verifier({ clockTolerance: 30 }).verify(justExpired));
  const err = await refused(t, verifier({ clockTolerance: 5 }).verify(justExpired), 401, 'invalid_token');
  t.true(err.cause instanceof errors.JWTExpired);
  t.regex(err.message, /expired/);
});

test('a verified token is remembered until it expires: then refused without another signature check', async (t) => {
  const key = await keyportKey();
  const exp = Math.floor(Date.now() / 1000) + 2; // at least a second ahead, even on a busy machine
  const shortLived = await craft(claims({ exp }), { alg: 'ES256', typ: 'at+jwt', kid: signingJwk.kid }, key);
  // Without the revocation feed: its first fetch would eat into the token's two seconds on a busy machine.
  const v = verifier({ clockTolerance: 0, revocationFeed: false });
  t.is((await v.verify(shortLived)).claims.exp, exp);
  t.is((await v.verify(shortLived)).claims.exp, exp, 'the same token again: accepted from the cache');
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 50));
  const err = await refused(t, v.verify(shortLived), 401, 'invalid_token');
  t.regex(err.message, /expired/);
  t.is(err.cause, undefined, 'refused by the cached entry\'s expiry (jose would have set JWTExpired as the cause)');
  // Without the cache the same token is refused by jose's own check.
  const uncached = await refused(t, verifier({ clockTolerance: 0, verifiedTokens: false }).verify(shortLived), 401, 'invalid_token');
  t.true(uncached.cause instanceof errors.JWTExpired);
});

test('a remembered token is still checked for the scopes of each call', async (t) => {
  const readOnly = await token({ scope: 'orders:read' });
  const v = verifier();
  t.deepEqual((await v.verify(readOnly, { scopes: ['orders:read'] })).scopes, ['orders:read']);
  await refused(t, v.verify(readOnly, { scopes: ['orders:write'] }), 403, 'insufficient_scope');
});

test('requires the claims Keyport always sets', async (t) => {
  const key = await keyportKey();
  const header = { alg: 'ES256', typ: 'at+jwt', kid: signingJwk.kid };
  for (const claim of ['client_id', 'jti', 'sub', 'exp']) {
    const payload = claims();
    delete payload[claim];
    const err = await refused(t, verifier().verify(await craft(payload, header, key)), 401, 'invalid_token');
    t.is((err.cause as errors.JWTClaimValidationFailed).claim, claim);
  }
});

test('missing scope is insufficient_scope (403), naming the scopes needed', async (t) => {
  const readOnly = await token({ scope: 'orders:read' });
  const err = await refused(t, verifier({ requiredScopes: ['orders:read'] }).verify(readOnly, { scopes: ['orders:write'] }), 403, 'insufficient_scope');
  t.deepEqual(err.scopes, ['orders:read', 'orders:write']);
  t.is(err.challenge('api'), 'Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="orders:read orders:write"');
});

// ---- tenant binding ------------------------------------------------------------

test('tenants is required: no binding, an empty one, a misspelt one or ids of the wrong kind stop createVerifier', (t) => {
  const base = { issuer: 'http://localhost:3000', audience: AUDIENCE };
  const message = /tenants is required/;
  t.throws(() => createVerifier(base as unknown as VerifierOptions), { instanceOf: TypeError, message });
  for (const tenants of [{}, { accounts: [] }, { accounts: [], environments: [] }, null, 'all', ['acc_1']]) {
    t.throws(() => createVerifier({ ...base, tenants } as unknown as VerifierOptions), { instanceOf: TypeError, message }, JSON.stringify(tenants));
  }
  t.throws(() => createVerifier({ ...base, tenants: { account: ['acc_1'] } } as unknown as VerifierOptions), { instanceOf: TypeError, message: /not account/ });
  t.throws(() => createVerifier({ ...base, tenants: { accounts: ['env_1'] } }), { instanceOf: TypeError, message: /an account id \(acc_…\)/ });
  t.throws(() => createVerifier({ ...base, tenants: { environments: ['acc_1'] } }), { instanceOf: TypeError, message: /an environment id \(env_…\)/ });
  t.throws(() => createVerifier({ ...base, tenants: { accounts: 'acc_1' } } as unknown as VerifierOptions), { instanceOf: TypeError, message: /must be an array/ });
  for (const tenants of ['any', { accounts: ['acc_1'] }, { environments: ['env_1'] }, () => true] as const) {
    t.notThrows(() => createVerifier({ ...base, tenants }));
  }
});

test('a valid token of another account, with every scope the route needs, is 403 wrong_tenant, without asking Keyport about it', async (t) => {
  const foreign = await token({ keypair: stranger });
  const { urls, fetch } = countingFetch();
  const v = verifier({ fetch, introspection: { clientId: introspector.keyId, clientSecret: introspector.secret } });
  const err = await refused(t, v.verify(foreign, { scopes: ['orders:read', 'orders:write'] }), 403, 'wrong_tenant');
  t.is(err.scopes, undefined, 'no scope would help: none is named');
  t.is(err.challenge('api'), 'Bearer realm="api", error="wrong_tenant", error_description="the access token belongs to an account or environment this API does not serve"');
  t.deepEqual(err.body(), { error: 'wrong_tenant', error_description: 'the access token belongs to an account or environment this API does not serve' });
  t.false(urls.some((url) => url.endsWith('/oauth/introspect')), 'refused before introspection');
  // The same verifier accepts its own account's tokens; one bound to the stranger's account accepts theirs.
  await t.notThrowsAsync(v.verify(await token()));
  await t.notThrowsAsync(verifier({ tenants: { accounts: [stranger.accountId] } }).verify(foreign));
  // Remembered tokens are checked again: the verified-token cache holds no tenant decision.
  const both = verifier({ tenants: { accounts: [client.accountId] } });
  await refused(t, both.verify(foreign), 403, 'wrong_tenant');
  await refused(t, both.verify(foreign), 403, 'wrong_tenant');
});

test('accounts accept the account\'s own keypairs and its environments\'; environments accept only theirs', async (t) => {
  const accountToken = await token({ keypair: introspector, scope: 'keyport:introspect' }); // an account keypair of the client's account
  const prodToken = await token(); // the client: a keypair of the account's environment
  const otherEnv = await keyport.keyport.domain.owners.createEnvironment(client.accountId, { name: 'staging' }, 'system');
  const issued = await keyport.keyport.domain.keypairs.create({ environmentId: otherEnv.id }, { name: 'staging', scopes: ['orders:read'] }, 'system');
  const stagingToken = await token({ keypair: { keyId: issued.keypair.keyId, secret: issued.secret } });

  const byAccount = verifier({ tenants: { accounts: [client.accountId] } });
  for (const accepted of [accountToken, prodToken, stagingToken]) await t.notThrowsAsync(byAccount.verify(accepted));

  const byEnvironment = verifier({ tenants: { environments: [client.environmentId] } });
  await t.notThrowsAsync(byEnvironment.verify(prodToken));
  await refused(t, byEnvironment.verify(stagingToken), 403, 'wrong_tenant');
  await refused(t, byEnvironment.verify(accountToken), 403, 'wrong_tenant');

  const mixed = verifier({ tenants: { accounts: [stranger.accountId], environments: [otherEnv.id] } });
  await t.notThrowsAsync(mixed.verify(stagingToken));
  await t.notThrowsAsync(mixed.verify(await token({ keypair: stranger })));
  await refused(t, mixed.verify(prodToken), 403, 'wrong_tenant');
});

test('a tenant callback sees the claims and decides: true accepts; false, a truthy non-true or a missing answer refuses; a throw is 503', async (t) => {
  const seen: KeyportAccessTokenClaims[] = [];
  const live = await token();
  const accepting = verifier({ tenants: async (claims) => { seen.push(claims); return claims.acc === client.accountId; } });
  await t.notThrowsAsync(accepting.verify(live));
  t.is(seen[0]!.acc, client.accountId);
  t.is(seen[0]!.env, client.environmentId);
  await refused(t, accepting.verify(await token({ keypair: stranger })), 403, 'wrong_tenant');
  for (const answer of [false, 'yes', 1, undefined]) {
    await refused(t, verifier({ tenants: () => answer as boolean }).verify(live), 403, 'wrong_tenant');
  }
  const failure = new Error('tenant directory unreachable');
  for (const tenants of [() => { throw failure; }, () => Promise.reject(failure)]) {
    const err = await refused(t, verifier({ tenants }).verify(live), 503, 'temporarily_unavailable');
    t.is(err.cause, failure);
  }
});

test('tenants: \'any\' accepts every account of the issuer (an API that separates them itself)', async (t) => {
  const result = await verifier({ tenants: 'any' }).verify(await token({ keypair: stranger }));
  t.is(result.claims.acc, stranger.accountId);
});

test('an unreachable issuer is 503 and is not asked again within the cooldown', async (t) => {
  const { urls, fetch } = countingFetch();
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const v = createVerifier({ issuer: `http://127.0.0.1:${port}`, audience: AUDIENCE, tenants: 'any', fetch, jwks: { cooldownMs: 60_000 } });
  const real = await token();
  await refused(t, v.verify(real), 503, 'temporarily_unavailable');
  await refused(t, v.verify(real), 503, 'temporarily_unavailable');
  t.is(urls.length, 1);
});

// ---- signing key rotation: a stand-in issuer whose JWKS the test changes -----

interface FakeIssuer { url: string; publish(keys: JWK[]): void; jwksRequests(): number; close(): Promise<void> }

/** Serves issuer metadata and a JWKS the test sets, and counts the JWKS requests it gets. */
async function fakeIssuer(t: ExecutionContext): Promise<FakeIssuer> {
  let keys: JWK[] = [];
  let requests = 0;
  let url = '';
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/oauth-authorization-server') {
      res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }));
    } else if (req.url === '/jwks') {
      requests++;
      res.end(JSON.stringify({ keys }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  t.teardown(close);
  return { url, publish: (next) => { keys = next; }, jwksRequests: () => requests, close };
}

async function newSigningKey(): Promise<{ kid: string; privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = `k-${Math.random().toString(36).slice(2)}`;
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

function tokenOf(issuer: FakeIssuer, key: { kid: string; privateKey: CryptoKey }, overrides: JWTPayload = {}): Promise<string> {
  return craft(claims({ iss: issuer.url, ...overrides }), { alg: 'ES256', typ: 'at+jwt', kid: key.kid }, key.privateKey);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a key published after the JWKS was cached: its token verifies once the cooldown allows one refetch', async (t) => {
  const issuer = await fakeIssuer(t);
  const [first, second] = [await newSigningKey(), await newSigningKey()];
  issuer.publish([first.jwk]);
  const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, tenants: 'any', jwks: { cooldownMs: 50 } });
  await v.verify(await tokenOf(issuer, first));
  t.is(issuer.jwksRequests(), 1);
  issuer.publish([first.jwk, second.jwk]);
  await sleep(100); // past the cooldown
  t.is((await v.verify(await tokenOf(issuer, second))).claims.iss, issuer.url);
  t.is(issuer.jwksRequests(), 2, 'the unknown kid fetched the JWKS again, once');
});

test('within the cooldown a new kid is refused without asking the issuer, however many arrive (Keyport publishes keys an hour ahead for this)', async (t) => {
  const issuer = await fakeIssuer(t);
  const [first, second] = [await newSigningKey(), await newSigningKey()];
  issuer.publish([first.jwk]);
  const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, tenants: 'any', jwks: { cooldownMs: 60_000 } });
  await v.verify(await tokenOf(issuer, first));
  issuer.publish([first.jwk, second.jwk]);
  for (let i = 0; i < 20; i++) {
    const err = await refused(t, v.verify(await tokenOf(issuer, second)), 401, 'invalid_token');
    t.true(err.cause instanceof errors.JWKSNoMatchingKey);
  }
  t.is(issuer.jwksRequests(), 1);
});

test('a token remembered as verified is refused once its key has left the JWKS (revoked), even one made to last for years', async (t) => {
  const issuer = await fakeIssuer(t);
  const [stolen, good] = [await newSigningKey(), await newSigningKey()];
  issuer.publish([stolen.jwk, good.jwk]);
  // A JWKS fresh for a second: long enough for the three calls below on a loaded machine, short enough to wait out.
  const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, tenants: 'any', jwks: { cacheMaxAgeMs: 1000, cooldownMs: 60_000 } });
  const forever = await tokenOf(issuer, stolen, { exp: Math.floor(Date.now() / 1000) + 10 * 365 * 86_400 });
  const honest = await tokenOf(issuer, good);
  await v.verify(forever);
  await v.verify(honest);
  await v.verify(forever);
  t.is(issuer.jwksRequests(), 1, 'remembered: no further request while the JWKS is fresh');

  issuer.publish([good.jwk]);
  await sleep(1100); // past the JWKS max age
  const err = await refused(t, v.verify(forever), 401, 'invalid_token');
  t.true(err.cause instanceof errors.JWKSNoMatchingKey, String(err.cause));
  t.is((await v.verify(honest)).claims.iss, issuer.url, 'tokens of a key still published are still accepted');
  t.is(issuer.jwksRequests(), 2, 'one fetch of the stale JWKS');
});

// ---- Koa middleware (the protected demo API) -------------------------------

test('koa: a valid token reaches the route', async (t) => {
  const response = await fetch(`${plainApi.url}/orders`, { headers: { authorization: `Bearer ${await token({ scope: 'orders:read' })}` } });
  t.is(response.status, 200);
  const body = await response.json() as { caller: string; orders: unknown[] };
  t.is(body.caller, client.keyId);
  t.is(body.orders.length, 2);
});

test('koa: no token is 401 with a bare Bearer challenge', async (t) => {
  for (const authorization of [undefined, 'Basic dXNlcjpwYXNz']) {
    const response = await fetch(`${plainApi.url}/orders`, authorization ? { headers: { authorization } } : {});
    t.is(response.status, 401);
    t.is(response.headers.get('www-authenticate'), 'Bearer realm="orders-api"');
  }
  const health = await fetch(`${plainApi.url}/healthz`);
  t.is(health.status, 200, 'unprotected routes stay open');
});

test('koa: a malformed Bearer header is 400 invalid_request', async (t) => {
  const response = await fetch(`${plainApi.url}/orders`, { headers: { authorization: 'Bearer two words' } });
  t.is(response.status, 400);
  t.regex(response.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
});

test('koa: an invalid token is 401 invalid_token', async (t) => {
  const response = await fetch(`${plainApi.url}/orders`, { headers: { authorization: `Bearer ${await token({ resource: OTHER_AUDIENCE })}` } });
  t.is(response.status, 401);
  t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer realm="orders-api", error="invalid_token", error_description="the access token is not meant for this API"$/);
  t.is(response.headers.get('cache-control'), 'no-store');
  t.is(((await response.json()) as { error: string }).error, 'invalid_token');
});

test('koa: a missing scope is 403 insufficient_scope', async (t) => {
  const readOnly = await token({ scope: 'orders:read' });
  const response = await fetch(`${plainApi.url}/orders`, { method: 'POST', headers: { authorization: `Bearer ${readOnly}` } });
  t.is(response.status, 403);
  const challenge = response.headers.get('www-authenticate') ?? '';
  t.regex(challenge, /error="insufficient_scope"/);
  t.regex(challenge, /scope="orders:write"/);
  const writer = await token({ scope: 'orders:write' });
  t.is((await fetch(`${plainApi.url}/orders`, { method: 'POST', headers: { authorization: `Bearer ${writer}` } })).status, 201);
});

test('koa: a stranger\'s account keypair with orders:write is 403 wrong_tenant; without the binding it would have been served', async (t) => {
  const foreign = await token({ keypair: stranger, scope: 'orders:write' });
  const response = await fetch(`${plainApi.url}/orders`, { method: 'POST', headers: { authorization: `Bearer ${foreign}` } });
  t.is(response.status, 403);
  t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer realm="orders-api", error="wrong_tenant", error_description="[^"]+"$/);
  t.is(((await response.json()) as { error: string }).error, 'wrong_tenant');
  // What the binding prevents: an API that checks issuer, audience and scope alone serves the stranger.
  const open = await startProtectedApi({ issuer: keyport.url, tenants: 'any', port: 0 });
  try {
    t.is((await fetch(`${open.url}/orders`, { method: 'POST', headers: { authorization: `Bearer ${foreign}` } })).status, 201);
  } finally {
    await open.close();
  }
});

// ---- Express-style middleware (node:http) ----------------------------------

test('express-style: valid token ⇒ next() with req.auth; refusals answered by the middleware', async (t) => {
  const ok = await fetch(expressApi.url, { headers: { authorization: `Bearer ${await token({ scope: 'orders:read' })}` } });
  t.is(ok.status, 200);
  t.deepEqual(await ok.json(), { client_id: client.keyId, scopes: ['orders:read'] });

  const none = await fetch(expressApi.url);
  t.is(none.status, 401);
  t.is(none.headers.get('www-authenticate'), 'Bearer realm="express-api"');

  const writeOnly = await fetch(expressApi.url, { headers: { authorization: `Bearer ${await token({ scope: 'orders:write' })}` } });
  t.is(writeOnly.status, 403);
  t.regex(writeOnly.headers.get('www-authenticate') ?? '', /error="insufficient_scope".*scope="orders:read"/);
  t.is(((await writeOnly.json()) as { error: string }).error, 'insufficient_scope');

  const forged = await craft(claims(), { alg: 'ES256', typ: 'JWT', kid: signingJwk.kid }, await keyportKey());
  const bad = await fetch(expressApi.url, { headers: { authorization: `Bearer ${forged}` } });
  t.is(bad.status, 401);
  t.regex(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

  const foreign = await fetch(expressApi.url, { headers: { authorization: `Bearer ${await token({ keypair: stranger, scope: 'orders:read' })}` } });
  t.is(foreign.status, 403);
  t.regex(foreign.headers.get('www-authenticate') ?? '', /error="wrong_tenant"/);
  t.is(((await foreign.json()) as { error: string }).error, 'wrong_tenant');
});

// ---- introspection: immediate revocation -----------------------------------

test.serial('introspection: a disabled keypair\'s live token is refused at once (offline validation without the revocation feed still accepts it until exp)', async (t) => {
  const own = await seedKeypair(keyport.keyport, { scopes: ['orders:read'] });
  // A resource server of that account, allowed to introspect its tokens.
  const rs = await keyport.keyport.domain.keypairs.create({ accountId: own.accountId }, { name: 'api', scopes: ['keyport:introspect'] }, 'system');
  const api = await startProtectedApi({ issuer: keyport.url, tenants: { accounts: [own.accountId] }, port: 0, introspection: { clientId: rs.keypair.keyId, clientSecret: rs.secret } });
  try {
    const live = await token({ keypair: own });
    const call = (url: string) => fetch(`${url}/orders`, { headers: { authorization: `Bearer ${live}` } });
    t.is((await call(api.url)).status, 200);

    await keyport.keyport.domain.keypairs.setEnabled(own.keyId, false, 'system');
    const refusedCall = await call(api.url);
    t.is(refusedCall.status, 401);
    t.regex(refusedCall.headers.get('www-authenticate') ?? '', /error="invalid_token", error_description="the access token is no longer active"/);
    await t.notThrowsAsync(verifier({ tenants: { accounts: [own.accountId] }, revocationFeed: false }).verify(live), 'without introspection or the revocation feed the token stays valid until it expires');
    await t.throwsAsync(verifier({ tenants: { accounts: [own.accountId] } }).verify(live), { instanceOf: TokenError, message: 'the access token has been revoked' }, 'the revocation feed (on by default) refuses it');

    await keyport.keyport.domain.keypairs.setEnabled(own.keyId, true, 'system');
    t.is((await call(api.url)).status, 401, 'enabling the keypair again does not revive the tokens the disable revoked');
    const fresh = await token({ keypair: own });
    const callFresh = (url: string) => fetch(`${url}/orders`, { headers: { authorization: `Bearer ${fresh}` } });
    t.is((await callFresh(api.url)).status, 200, 'its new tokens are accepted');

    await keyport.keyport.domain.keypairs.remove(own.keyId, 'system');
    t.is((await callFresh(api.url)).status, 401, 'a removed keypair\'s tokens are refused');
  } finally {
    await api.close();
  }
});

test.serial('introspection: a revoked token is refused at once', async (t) => {
  const live = await token({ scope: 'orders:read' });
  const call = () => fetch(`${strictApi.url}/orders`, { headers: { authorization: `Bearer ${live}` } });
  t.is((await call()).status, 200);
  const revoke = await fetch(`${keyport.url}/oauth/revoke`, {
    method: 'POST',
    headers: { authorization: basic(client.keyId, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: live }),
  });
  t.is(revoke.status, 200);
  t.is((await call()).status, 401);
  t.is((await fetch(`${strictApi.url}/orders`, { headers: { authorization: `Bearer ${await token({ scope: 'orders:read' })}` } })).status, 200, 'other tokens of the keypair still work');
});

test('introspection: wrong API credentials fail closed (503), never open', async (t) => {
  const v = verifier({ introspection: { clientId: introspector.keyId, clientSecret: `${introspector.secret.slice(0, -8)}AAAAAAAA` } });
  const err = await refused(t, v.verify(await token()), 503, 'temporarily_unavailable');
  t.is(err.challenge(), undefined);
});

test('introspection: an introspector of another account cannot vouch for the token', async (t) => {
  const stranger = await seedKeypair(keyport.keyport, { scopes: ['orders:read'] });
  const rs = await keyport.keyport.domain.keypairs.create({ accountId: stranger.accountId }, { name: 'api', scopes: ['keyport:introspect'] }, 'system');
  const v = verifier({ introspection: { clientId: rs.keypair.keyId, clientSecret: rs.secret } });
  await refused(t, v.verify(await token()), 401, 'invalid_token');
});

test('introspection: an active answer may be cached for a short while', async (t) => {
  const { urls, fetch } = countingFetch();
  const v = verifier({ fetch, introspection: { clientId: introspector.keyId, clientSecret: introspector.secret, cacheMaxAgeMs: 60_000 } });
  const live = await token();
  await v.verify(live);
  await v.verify(live);
  await v.verify(live);
  t.is(urls.filter((url) => url.endsWith('/oauth/introspect')).length, 1);
});
