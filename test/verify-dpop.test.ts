// keyport/verify with DPoP (RFC 9449 §7) against a real Keyport over HTTP:
// DPoP-bound tokens from the token endpoint, presented to the protected demo
// API (Koa middleware) and to a node:http server (Express-style middleware)
// with good and bad proofs; the answers of §7.1 (401, WWW-Authenticate: DPoP).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import anyTest, { type TestFn } from 'ava';
import { createVerifier, expressMiddleware, TokenError, type ExpressLikeRequest } from 'keyport/verify';
import { startProtectedApi, type RunningProtectedApi } from '../examples/protected-api/server.ts';
import { dpopKey, dpopProof, dpopTokenRequest, type DpopKey } from './helpers/dpop.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken, seedKeypair } from './helpers/oauth.ts';

interface Context {
  kp: TestKeyport;
  client: { keyId: string; secret: string; accountId: string };
  koaApi: RunningProtectedApi;
  expressApi: { url: string; server: Server };
}
const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  const kp = await startTestKeyport();
  const client = await seedKeypair(kp.keyport, { scopes: ['orders:read', 'orders:write'] });
  const tenants = { accounts: [client.accountId] };
  const koaApi = await startProtectedApi({ issuer: kp.url, tenants, port: 0 });
  const auth = expressMiddleware(createVerifier({ issuer: kp.url, audience: 'https://api.example.com', tenants, realm: 'express-api' }));
  const server = createServer((req, res) => {
    auth(req, res, (err?: unknown) => {
      res.statusCode = err ? 500 : 200;
      res.setHeader('content-type', 'application/json');
      const verified = (req as ExpressLikeRequest).auth;
      res.end(JSON.stringify({ client_id: verified?.clientId, scheme: verified?.scheme }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.context = { kp, client, koaApi, expressApi: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server } };
});

test.after.always(async (t) => {
  const { kp, koaApi, expressApi } = t.context;
  await koaApi?.close();
  if (expressApi) await new Promise<void>((resolve) => {
    expressApi.server.close(() => resolve());
    expressApi.server.closeIdleConnections();
  });
  await kp?.close();
});

/** A DPoP-bound token of `key` from Keyport. */
async function boundToken(t: { context: Context }, key: DpopKey): Promise<string> {
  const { kp, client } = t.context;
  const response = await dpopTokenRequest(kp.url, client, await dpopProof(key, 'POST', `${kp.url}/oauth/token`));
  const body = await response.json() as { access_token: string; token_type: string };
  if (body.token_type !== 'DPoP') throw new Error(`expected a DPoP token: ${JSON.stringify(body)}`);
  return body.access_token;
}

function call(url: string, headers: Record<string, string>, method = 'GET') {
  return fetch(url, { method, headers });
}

async function refusal(response: Response) {
  return { status: response.status, challenge: response.headers.get('www-authenticate') ?? '', body: await response.json() as { error: string; error_description: string } };
}

test('koa: a bound token with a valid proof reaches the route; the same proof again is refused (replay)', async (t) => {
  const key = await dpopKey();
  const token = await boundToken(t, key);
  const url = `${t.context.koaApi.url}/orders`;
  const proof = await dpopProof(key, 'GET', url, { accessToken: token });
  const ok = await call(url, { authorization: `DPoP ${token}`, dpop: proof });
  t.is(ok.status, 200);
  t.is((await ok.json() as { caller: string }).caller, t.context.client.keyId);
  const replayed = await refusal(await call(url, { authorization: `DPoP ${token}`, dpop: proof }));
  t.is(replayed.status, 401);
  t.is(replayed.body.error, 'invalid_dpop_proof');
  t.regex(replayed.challenge, /^DPoP realm="orders-api", error="invalid_dpop_proof", error_description="the DPoP proof was already used", algs="ES256 EdDSA Ed25519"$/);
  // A fresh proof works again: the token itself is fine.
  t.is((await call(url, { authorization: `DPoP ${token}`, dpop: await dpopProof(key, 'GET', url, { accessToken: token }) })).status, 200);
});

test('koa: a DPoP-bound token presented as Bearer is refused (no downgrade), with a DPoP challenge', async (t) => {
  const key = await dpopKey();
  const token = await boundToken(t, key);
  const url = `${t.context.koaApi.url}/orders`;
  for (const headers of [{ authorization: `Bearer ${token}` }, { authorization: `Bearer ${token}`, dpop: await dpopProof(key, 'GET', url, { accessToken: token }) }] as Record<string, string>[]) {
    const refused = await refusal(await call(url, headers));
    t.is(refused.status, 401);
    t.is(refused.body.error, 'invalid_token');
    t.regex(refused.challenge, /^DPoP realm="orders-api", error="invalid_token", error_description="the access token is DPoP-bound[^"]*", algs="ES256 EdDSA Ed25519"$/);
  }
});

test('koa: proofs that do not fit the request or the token are invalid_dpop_proof (401)', async (t) => {
  const key = await dpopKey();
  const other = await dpopKey();
  const token = await boundToken(t, key);
  const otherToken = await boundToken(t, key);
  const url = `${t.context.koaApi.url}/orders`;
  const cases: Record<string, [string | undefined, RegExp]> = {
    'ath of another token': [await dpopProof(key, 'GET', url, { accessToken: otherToken }), /ath/],
    'no ath': [await dpopProof(key, 'GET', url), /ath/],
    'signed by another key': [await dpopProof(other, 'GET', url, { accessToken: token }), /another key/],
    'for another URL': [await dpopProof(key, 'GET', `${t.context.koaApi.url}/whoami`, { accessToken: token }), /htu/],
    'for another method': [await dpopProof(key, 'POST', url, { accessToken: token }), /htm/],
    'too old': [await dpopProof(key, 'GET', url, { accessToken: token, claims: { iat: Math.floor(Date.now() / 1000) - 120 } }), /too old/],
    'dated ahead': [await dpopProof(key, 'GET', url, { accessToken: token, claims: { iat: Math.floor(Date.now() / 1000) + 120 } }), /future/],
    'wrong typ': [await dpopProof(key, 'GET', url, { accessToken: token, header: { typ: 'JWT' } }), /not valid/],
    'missing': [undefined, /needs a DPoP proof/],
  };
  for (const [name, [proof, reason]] of Object.entries(cases)) {
    const headers: Record<string, string> = { authorization: `DPoP ${token}` };
    if (proof) headers.dpop = proof;
    const refused = await refusal(await call(url, headers));
    t.is(refused.status, 401, name);
    t.is(refused.body.error, 'invalid_dpop_proof', name);
    t.regex(refused.body.error_description, reason, name);
    t.regex(refused.challenge, /^DPoP .*algs="ES256 EdDSA Ed25519"$/, name);
  }
  // The query string is not part of htu (RFC 9449 §4.3).
  t.is((await call(`${url}?page=2`, { authorization: `DPoP ${token}`, dpop: await dpopProof(key, 'GET', url, { accessToken: token }) })).status, 200);
});

test('koa: an unbound token with the DPoP scheme is refused; as Bearer it still works', async (t) => {
  const { kp, client, koaApi } = t.context;
  const plain = await getToken(kp.url, client);
  const url = `${koaApi.url}/orders`;
  const refused = await refusal(await call(url, { authorization: `DPoP ${plain}`, dpop: await dpopProof(await dpopKey(), 'GET', url, { accessToken: plain }) }));
  t.is(refused.status, 401);
  t.is(refused.body.error, 'invalid_token');
  t.regex(refused.body.error_description, /not DPoP-bound/);
  t.is((await call(url, { authorization: `Bearer ${plain}` })).status, 200);
});

test('express-style: a valid proof passes (req.auth.scheme DPoP); Bearer downgrade, wrong key and ath mismatch are refused', async (t) => {
  const key = await dpopKey();
  const token = await boundToken(t, key);
  const url = `${t.context.expressApi.url}/reports?x=1`;
  const ok = await call(url, { authorization: `DPoP ${token}`, dpop: await dpopProof(key, 'GET', url, { accessToken: token }) });
  t.is(ok.status, 200);
  t.deepEqual(await ok.json(), { client_id: t.context.client.keyId, scheme: 'DPoP' });
  const downgrade = await refusal(await call(url, { authorization: `Bearer ${token}` }));
  t.is(downgrade.status, 401);
  t.regex(downgrade.challenge, /^DPoP realm="express-api", error="invalid_token"/);
  const wrongKey = await refusal(await call(url, { authorization: `DPoP ${token}`, dpop: await dpopProof(await dpopKey(), 'GET', url, { accessToken: token }) }));
  t.is(wrongKey.status, 401);
  t.is(wrongKey.body.error, 'invalid_dpop_proof');
  const athMismatch = await refusal(await call(url, { authorization: `DPoP ${token}`, dpop: await dpopProof(key, 'GET', url, { accessToken: `${token}x` }) }));
  t.is(athMismatch.status, 401);
  t.regex(athMismatch.challenge, /^DPoP realm="express-api", error="invalid_dpop_proof", error_description="[^"]*\(ath\)", algs="ES256 EdDSA Ed25519"$/);
});

test('verifier: dpop.required refuses unbound tokens and challenges with DPoP; verify() refuses a bound token it cannot check a proof for', async (t) => {
  const { kp, client } = t.context;
  const verifier = createVerifier({ issuer: kp.url, audience: 'https://api.example.com', tenants: 'any', dpop: { required: true } });
  const plain = await getToken(kp.url, client);
  const unbound = await verifier.authenticateRequest({ authorization: `Bearer ${plain}`, method: 'GET', url: 'https://api.example.com/x' }).catch((err: unknown) => err);
  t.true(unbound instanceof TokenError);
  t.is((unbound as TokenError).status, 401);
  t.regex((unbound as TokenError).challenge() ?? '', /^DPoP error="invalid_token", error_description="this API accepts DPoP-bound access tokens only", algs=/);
  const none = await verifier.authenticateRequest({ authorization: undefined }).catch((err: unknown) => err);
  t.is((none as TokenError).challenge(), 'DPoP algs="ES256 EdDSA Ed25519"');
  const key = await dpopKey();
  const bound = await boundToken(t, key);
  const direct = await verifier.verify(bound).catch((err: unknown) => err);
  t.is((direct as TokenError).error, 'invalid_token');
  const url = 'https://api.example.com/things';
  const accepted = await verifier.authenticateRequest({ authorization: `DPoP ${bound}`, dpop: await dpopProof(key, 'GET', url, { accessToken: bound }), method: 'GET', url });
  t.is(accepted.scheme, 'DPoP');
  t.is(accepted.claims.cnf?.jkt, key.thumbprint);
});

test('verifier: a shared replay record (isFirstUse) is asked once per proof, and a failing one fails closed (503)', async (t) => {
  const { kp } = t.context;
  const seen = new Map<string, number>();
  const shared = createVerifier({ issuer: kp.url, audience: 'https://api.example.com', tenants: 'any', dpop: { isFirstUse: (id, expiresAtMs) => (seen.has(id) ? false : (seen.set(id, expiresAtMs), true)) } });
  const key = await dpopKey();
  const bound = await boundToken(t, key);
  const url = 'https://api.example.com/things';
  const proof = await dpopProof(key, 'GET', url, { accessToken: bound });
  await shared.authenticateRequest({ authorization: `DPoP ${bound}`, dpop: proof, method: 'GET', url });
  t.is(seen.size, 1);
  const [expiresAtMs] = [...seen.values()];
  t.true(expiresAtMs! > Date.now() + 50_000, 'kept while the iat window lasts');
  const again = await shared.authenticateRequest({ authorization: `DPoP ${bound}`, dpop: proof, method: 'GET', url }).catch((err: unknown) => err);
  t.is((again as TokenError).error, 'invalid_dpop_proof');
  const down = createVerifier({ issuer: kp.url, audience: 'https://api.example.com', tenants: 'any', dpop: { isFirstUse: () => { throw new Error('redis down'); } } });
  const failed = await down.authenticateRequest({ authorization: `DPoP ${bound}`, dpop: await dpopProof(key, 'GET', url, { accessToken: bound }), method: 'GET', url }).catch((err: unknown) => err);
  t.is((failed as TokenError).status, 503);
});
