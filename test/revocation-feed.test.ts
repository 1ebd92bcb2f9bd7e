// The signed revocation feed (docs/revocation.md) against a real Keyport over
// HTTP: what it publishes and how, each kind of revocation reaching a resource
// server that validates tokens offline (keyport/verify), the bound the kit
// states, its refusal of forged feeds, and its caching.
import test, { type ExecutionContext } from 'ava';
import { createRemoteJWKSet, decodeJwt, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { createVerifier, TokenError, type FetchLike, type TokenErrorCode, type VerifierOptions } from 'keyport/verify';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { basic, getToken } from './helpers/oauth.ts';
import { cliEnv, runCli } from './helpers/cli.ts';

const AUDIENCE = 'https://api.example.com';
const FEED_PATH = '/oauth/revocations';

let tk: TestKeyport;
let admin: ApiClient;

test.before(async () => {
  tk = await startTestKeyport({ overrides: { tokens: { ttlSeconds: 600, defaultAudience: AUDIENCE, resources: [AUDIENCE] } } });
  await createUser(tk.keyport, 'admin@feed.test');
  admin = await ApiClient.signIn(tk.url, 'admin@feed.test');
});
test.after.always(async () => {
  await tk?.close();
});

/** An account (the admin's) with two environments, and a keypair of the account and of each environment. */
async function tenant(name: string) {
  const ids = await createTenant(tk.keyport, name);
  const userId = (await tk.keyport.domain.users.findByEmail('admin@feed.test'))!.id;
  await tk.keyport.domain.users.grant(userId, accountOwner(ids.accountId), 'admin', 'system');
  const create = async (owner: { accountId: string } | { environmentId: string }) => {
    const res = await admin.post(`/${'accountId' in owner ? `accounts/${owner.accountId}` : `environments/${owner.environmentId}`}/keypairs`, { name: 'ci', scopes: ['orders:read'] });
    if (res.status !== 201) throw new Error(`keypair: ${res.status} ${JSON.stringify(res.body)}`);
    return { keyId: res.body.keypair.keyId as string, secret: res.body.secret as string };
  };
  return { ...ids, own: await create({ accountId: ids.accountId }), production: await create({ environmentId: ids.productionId }), staging: await create({ environmentId: ids.stagingId }) };
}

function verifierOf(accountId: string, extra: Partial<VerifierOptions> = {}) {
  return createVerifier({ issuer: tk.url, audience: AUDIENCE, tenants: { accounts: [accountId] }, ...extra });
}

async function refused(t: ExecutionContext, promise: Promise<unknown>, status: TokenError['status'], error: TokenErrorCode): Promise<TokenError> {
  const err = await t.throwsAsync(promise, { instanceOf: TokenError });
  t.is(err.status, status, err.message);
  t.is(err.error, error);
  return err;
}

async function revokedForGood(t: ExecutionContext, promise: Promise<unknown>): Promise<void> {
  const err = await refused(t, promise, 401, 'invalid_token');
  t.is(err.message, 'the access token has been revoked');
}

function countingFetch(rewrite?: (url: string, response: Response) => Promise<Response>): { fetch: FetchLike; urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    fetch: async (url, init) => {
      urls.push(url);
      const response = await fetch(url, init);
      return rewrite ? rewrite(url, response) : response;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.serial('the metadata names the feed: a revocations+jwt signed with the token signing key, cacheable briefly, with an ETag', async (t) => {
  const metadata = await (await fetch(`${tk.url}/.well-known/oauth-authorization-server`)).json() as Record<string, string>;
  t.is(metadata.keyport_revocation_feed_uri, `${tk.url}${FEED_PATH}`);

  const response = await fetch(metadata.keyport_revocation_feed_uri!);
  t.is(response.status, 200);
  t.is(response.headers.get('content-type'), 'application/revocations+jwt');
  t.is(response.headers.get('cache-control'), 'public, max-age=2');
  const etag = response.headers.get('etag');
  t.truthy(etag);
  const jwt = await response.text();
  const { payload, protectedHeader } = await jwtVerify(jwt, createRemoteJWKSet(new URL(metadata.jwks_uri!)), { issuer: tk.url, typ: 'revocations+jwt', algorithms: ['ES256'] });
  t.is(protectedHeader.kid, tk.keyport.signingKeys.signingKey().kid);
  t.true(Math.abs(payload.iat! - Date.now() / 1000) <= 2);
  t.true(payload.exp! > payload.iat!);
  t.is(typeof payload.keypairs, 'object');
  for (const list of [payload.accounts, payload.environments, payload.tokens]) t.true(Array.isArray(list));

  // (fetch adds Cache-Control: no-cache to a conditional request unless one is given.)
  const again = await fetch(metadata.keyport_revocation_feed_uri!, { headers: { 'if-none-match': etag!, 'cache-control': 'max-age=0' } });
  if (again.headers.get('etag') === etag) t.is(again.status, 304, 'the same feed is not sent twice');
  else t.is(again.status, 200, 'a newer feed replaces it');
  t.is((await fetch(metadata.keyport_revocation_feed_uri!, { method: 'POST' })).status, 405);
});

test.serial('disable: the keypair\'s tokens are refused; enabled again, only its new tokens are accepted', async (t) => {
  const acme = await tenant('Disable');
  const old = await getToken(tk.url, acme.production);
  const other = await getToken(tk.url, acme.staging);
  await verifierOf(acme.accountId).verify(old);

  t.is((await admin.post(`/keypairs/${acme.production.keyId}/disable`)).status, 200);
  const v = verifierOf(acme.accountId);
  await revokedForGood(t, v.verify(old));
  await t.notThrowsAsync(v.verify(other), 'another keypair of the same account is not affected');

  t.is((await admin.post(`/keypairs/${acme.production.keyId}/enable`)).status, 200);
  const fresh = await getToken(tk.url, acme.production);
  const after = verifierOf(acme.accountId);
  await t.notThrowsAsync(after.verify(fresh), 'a token of the new generation is accepted');
  await revokedForGood(t, after.verify(old));

  t.is((await admin.post(`/keypairs/${acme.production.keyId}/disable`)).status, 200);
  await revokedForGood(t, verifierOf(acme.accountId).verify(fresh));
  t.deepEqual(await feedEntry(acme.production.keyId), { gen_below: 2 }, 'the events of one keypair merge: the highest generation');
});

test.serial('expiry: once the sweep records it, the keypair\'s earlier tokens are refused offline; a new expiry date gives it new tokens, never the old ones back', async (t) => {
  const acme = await tenant('Expiry');
  const key = acme.production;
  const HOUR = 3_600_000;
  t.is((await admin.patch(`/keypairs/${key.keyId}`, { expiresAt: new Date(tk.clock.now().getTime() + HOUR).toISOString() })).status, 200);
  const old = await getToken(tk.url, key);
  await verifierOf(acme.accountId).verify(old);

  tk.clock.advance(2 * HOUR);
  t.teardown(() => tk.clock.advance(-2 * HOUR));
  await tk.keyport.domain.expiry.sweep();
  t.deepEqual(await feedEntry(key.keyId), { gen_below: 1 });
  await revokedForGood(t, verifierOf(acme.accountId).verify(old));
  await t.notThrowsAsync(verifierOf(acme.accountId).verify(await getToken(tk.url, acme.staging)), 'another keypair is not affected');

  t.is((await admin.patch(`/keypairs/${key.keyId}`, { expiresAt: new Date(tk.clock.now().getTime() + HOUR).toISOString() })).status, 200);
  const fresh = await getToken(tk.url, key);
  const after = verifierOf(acme.accountId);
  await t.notThrowsAsync(after.verify(fresh), 'a token issued after the new expiry date is accepted');
  await revokedForGood(t, after.verify(old));
});

async function feedEntry(keyId: string): Promise<unknown> {
  return (decodeJwt(await (await fetch(`${tk.url}${FEED_PATH}`)).text()).keypairs as Record<string, unknown>)[keyId];
}

test.serial('regenerate: the tokens issued before are refused, those of the new secret accepted; a planned rotation keeps them', async (t) => {
  const acme = await tenant('Regenerate');
  const rotatedKeep = await getToken(tk.url, acme.staging);
  const rotation = await admin.post(`/keypairs/${acme.staging.keyId}/rotate`, { grace: '1h' });
  t.is(rotation.status, 200);
  const old = await getToken(tk.url, acme.production);

  const regenerated = await admin.post(`/keypairs/${acme.production.keyId}/regenerate`);
  t.is(regenerated.status, 200);
  const fresh = await getToken(tk.url, { keyId: acme.production.keyId, secret: regenerated.body.secret });
  const v = verifierOf(acme.accountId);
  await revokedForGood(t, v.verify(old));
  await t.notThrowsAsync(v.verify(fresh));
  await t.notThrowsAsync(v.verify(rotatedKeep), 'a rotation without revokeTokens revokes nothing');
});

test.serial('remove: every token of the removed keypair is refused (also after a disable: the removal outweighs it)', async (t) => {
  const acme = await tenant('Remove');
  const old = await getToken(tk.url, acme.own);
  await verifierOf(acme.accountId).verify(old);
  t.is((await admin.post(`/keypairs/${acme.own.keyId}/disable`)).status, 200);
  t.deepEqual(await feedEntry(acme.own.keyId), { gen_below: 1 });
  t.is((await admin.delete(`/keypairs/${acme.own.keyId}`)).status, 204);
  await revokedForGood(t, verifierOf(acme.accountId).verify(old));
  t.deepEqual(await feedEntry(acme.own.keyId), { all: true }, 'a removal outweighs an earlier generation');
});

test.serial('owner closed: an environment\'s tokens are refused, then the whole account\'s', async (t) => {
  const acme = await tenant('Close');
  const [prod, staging, own] = [await getToken(tk.url, acme.production), await getToken(tk.url, acme.staging), await getToken(tk.url, acme.own)];

  t.is((await admin.post(`/environments/${acme.productionId}/close`)).status, 200);
  const v = verifierOf(acme.accountId);
  await revokedForGood(t, v.verify(prod));
  await t.notThrowsAsync(v.verify(staging), 'the other environment is still open');
  await t.notThrowsAsync(v.verify(own));
  const feed = decodeJwt(await (await fetch(`${tk.url}${FEED_PATH}`)).text());
  t.true((feed.environments as string[]).includes(acme.productionId));

  t.is((await admin.post(`/accounts/${acme.accountId}/close`)).status, 200);
  const after = verifierOf(acme.accountId);
  await revokedForGood(t, after.verify(staging));
  await revokedForGood(t, after.verify(own));
});

test.serial('/oauth/revoke: that one token is refused, the keypair\'s other tokens are not', async (t) => {
  const acme = await tenant('Revoke');
  const [revoked, kept] = [await getToken(tk.url, acme.own), await getToken(tk.url, acme.own)];
  const response = await fetch(`${tk.url}/oauth/revoke`, {
    method: 'POST',
    headers: { authorization: basic(acme.own.keyId, acme.own.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: revoked }),
  });
  t.is(response.status, 200);
  const v = verifierOf(acme.accountId);
  await revokedForGood(t, v.verify(revoked));
  await t.notThrowsAsync(v.verify(kept));
});

// The one timing assertion the issue asks for: "revocation is seen by an offline
// validator within 10 s by default". The kit never accepts a token on a feed
// older than its bound, so no call that starts later than 10 s after the
// revocation is accepted, however slow the machine (a feed it cannot fetch in
// time is a 503, failing closed); in practice the revocation is seen within
// about half the bound, when the kit's background refresh lands.
test.serial('the bound: a verifier already holding a feed accepts the token of a disabled keypair for at most 10 s after the disable', async (t) => {
  const acme = await tenant('Bound');
  const live = await getToken(tk.url, acme.production);
  const v = verifierOf(acme.accountId);
  await v.verify(live); // the kit now holds a feed from before the revocation
  t.is((await admin.post(`/keypairs/${acme.production.keyId}/disable`)).status, 200);
  const revokedAt = Date.now();
  let lastAccepted = 0;
  let firstRefused: number | null = null;
  let seenRevoked: number | null = null;
  while (Date.now() - revokedAt < 20_000) {
    const started = Date.now() - revokedAt;
    try {
      await v.verify(live);
      lastAccepted = started;
    } catch (err) {
      t.true(err instanceof TokenError, String(err));
      firstRefused ??= started;
      if ((err as TokenError).message === 'the access token has been revoked') {
        seenRevoked = started;
        break;
      }
    }
    await sleep(100);
  }
  t.log(`accepted until ${lastAccepted} ms after the disable, refused from ${firstRefused} ms, as revoked from ${seenRevoked} ms`);
  t.true(lastAccepted <= 10_000, `accepted ${lastAccepted} ms after the disable`);
  t.not(firstRefused, null);
  t.true(firstRefused! <= 10_000, `first refused ${firstRefused} ms after the disable`);
  t.not(seenRevoked, null, 'the kit refuses it as revoked once it holds a newer feed');
});

test.serial('a forged or tampered feed is refused: the kit fails closed rather than trust it', async (t) => {
  const acme = await tenant('Forged');
  const live = await getToken(tk.url, acme.own);
  t.is((await admin.post(`/keypairs/${acme.own.keyId}/disable`)).status, 200);
  const kid = tk.keyport.signingKeys.signingKey().kid;
  const foreign = await generateKeyPair('ES256');

  // An empty feed, well formed, but signed with another key under Keyport's kid.
  const now = Math.floor(Date.now() / 1000);
  const forgedJwt = await new SignJWT({ keypairs: {}, accounts: [], environments: [], tokens: [] }).setProtectedHeader({ alg: 'ES256', typ: 'revocations+jwt', kid }).setIssuer(tk.url).setIssuedAt(now).setExpirationTime(now + 60).sign(foreign.privateKey);
  await t.notThrowsAsync(jwtVerify(forgedJwt, foreign.publicKey, { issuer: tk.url, typ: 'revocations+jwt' }), 'valid but for its key');
  const forged = countingFetch(async (url, response) => (url.endsWith(FEED_PATH) ? new Response(forgedJwt, { status: 200 }) : response));
  await refused(t, verifierOf(acme.accountId, { fetch: forged.fetch }).verify(live), 503, 'temporarily_unavailable');

  // Keyport's own feed with the revocation taken out, its signature kept.
  const tampered = countingFetch(async (url, response) => {
    if (!url.endsWith(FEED_PATH)) return response;
    const [header, , signature] = (await response.text()).split('.');
    const body = Buffer.from(JSON.stringify({ iss: tk.url, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60, keypairs: {}, accounts: [], environments: [], tokens: [] })).toString('base64url');
    return new Response(`${header}.${body}.${signature}`, { status: 200 });
  });
  await refused(t, verifierOf(acme.accountId, { fetch: tampered.fetch }).verify(live), 503, 'temporarily_unavailable');

  // A real access token, validly signed by Keyport, passed off as the feed.
  const swapped = countingFetch(async (url, response) => (url.endsWith(FEED_PATH) ? new Response(await getToken(tk.url, acme.production), { status: 200 }) : response));
  await refused(t, verifierOf(acme.accountId, { fetch: swapped.fetch }).verify(live), 503, 'temporarily_unavailable');

  // And the genuine feed refuses the token.
  await revokedForGood(t, verifierOf(acme.accountId).verify(live));
});

test.serial('the feed is cached: fetched once for many verifications, again in the background once half the bound has passed', async (t) => {
  const acme = await tenant('Cache');
  const live = await getToken(tk.url, acme.own);
  const { fetch: counting, urls } = countingFetch();
  const v = verifierOf(acme.accountId, { fetch: counting, revocationFeed: { maxStalenessMs: 2000 } });
  for (let i = 0; i < 20; i++) await v.verify(live);
  const feedFetches = () => urls.filter((url) => url.endsWith(FEED_PATH)).length;
  t.is(feedFetches(), 1);
  await sleep(2100); // the held feed (iat rounded down to the second) is now past half the bound
  await v.verify(live);
  await sleep(200);
  for (let i = 0; i < 5; i++) await v.verify(live);
  t.is(feedFetches(), 2, 'one more fetch, not one per verification');
});

test.serial('an unreachable feed: refused (503) by default, accepted with whenStale: accept; revocationFeed: false never asks', async (t) => {
  const acme = await tenant('Down');
  const live = await getToken(tk.url, acme.own);
  const down = countingFetch(async (url, response) => (url.endsWith(FEED_PATH) ? new Response('{}', { status: 503 }) : response));
  const err = await refused(t, verifierOf(acme.accountId, { fetch: down.fetch }).verify(live), 503, 'temporarily_unavailable');
  t.regex(String((err.cause as Error).message), /HTTP 503/);
  await t.notThrowsAsync(verifierOf(acme.accountId, { fetch: down.fetch, revocationFeed: { whenStale: 'accept' } }).verify(live));

  const off = countingFetch();
  t.is((await admin.post(`/keypairs/${acme.own.keyId}/disable`)).status, 200);
  await t.notThrowsAsync(verifierOf(acme.accountId, { fetch: off.fetch, revocationFeed: false }).verify(live), 'without the feed the token is honoured until it expires');
  t.false(off.urls.some((url) => url.endsWith(FEED_PATH)));
  t.throws(() => verifierOf(acme.accountId, { revocationFeed: { maxStalenessMs: 500 } }), { instanceOf: TypeError, message: /at least 2000/ });
});

/** The `keyport` CLI as its own process, on the test server's database. */
test.serial('the feed comes from the database: a keypair disabled by another process (the CLI) is in the server\'s feed shortly after', async (t) => {
  const acme = await tenant('OtherProcess');
  const live = await getToken(tk.url, acme.own);
  const disabled = await runCli(cliEnv(tk.config), ['keypair', 'disable', acme.own.keyId]);
  t.is(disabled.code, 0, disabled.stderr);
  const doneAt = Date.now();
  let listed: unknown;
  while (Date.now() - doneAt < 3000 && !listed) {
    listed = await feedEntry(acme.own.keyId);
    if (!listed) await sleep(100);
  }
  t.deepEqual(listed, { gen_below: 1 });
  await revokedForGood(t, verifierOf(acme.accountId).verify(live));
});
