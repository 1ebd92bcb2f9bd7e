// private_key_jwt (RFC 7523 §2.2) against a real Keyport over HTTP on the
// embedded database: key upload through the admin API (JWK and PEM, and the
// keys refused), token requests signed with a key, every rejection of an
// assertion (replay, audience, expiry, lifetime, iat, alg none, HMAC keyed with
// the public key, another keypair's key), lockout, retirement with a grace
// period, and discovery.
import { createHmac, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import test from 'ava';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from 'jose';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { basic } from './helpers/oauth.ts';
import { UiClient } from './helpers/ui.ts';

let tk: TestKeyport;
let tenant: Awaited<ReturnType<typeof createTenant>>;
let admin: ApiClient;

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const HOUR = 3_600_000;

test.before(async () => {
  // Many refused requests come from one address here: the per-address budget must not be what refuses them.
  tk = await startTestKeyport({ overrides: { lockout: { mode: 'temporary', maxFailures: 5, durationSeconds: 900, maxTemporaryLocks: 5, maxFailuresPerAddress: 10_000 } } });
  tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  admin = await ApiClient.signIn(tk.url, 'admin@acme.test');
});
test.after.always(async () => {
  await tk?.close();
});

type Signer = { privateKey: KeyObject; publicJwk: JWK; alg: string };

async function newSigner(alg: 'ES256' | 'ES384' | 'EdDSA' | 'RS256' = 'ES256'): Promise<Signer> {
  const { privateKey, publicKey } = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : alg === 'EdDSA' ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' });
  // A KeyObject signs for RS256 and PS256 alike (a WebCrypto key is bound to one).
  return { privateKey, publicJwk: await exportJWK(publicKey), alg };
}

const pemOf = (jwk: JWK) => createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;

const tokenUrl = () => `${tk.url}/oauth/token`;

/** A client assertion; `claims` and `header` override the defaults (null removes a claim). */
async function assertion(keyId: string, signer: Signer, options: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: keyId, sub: keyId, aud: tokenUrl(), jti: randomUUID(), iat: now, exp: now + 60, ...options.claims };
  for (const [name, value] of Object.entries(claims)) if (value === null) delete claims[name];
  return new SignJWT(claims).setProtectedHeader({ alg: signer.alg, ...options.header }).sign(signer.privateKey);
}

async function tokenWith(clientAssertion: string, extra: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(tokenUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion, ...extra }),
  });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

/** A key-only keypair (no secret) holding the signer's public key, created through the admin API. */
async function keyOnlyKeypair(signer: Signer, name = 'signer'): Promise<string> {
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name, scopes: ['orders:read'], secret: false, publicKeys: [signer.publicJwk] });
  if (created.status !== 201) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.keypair.keyId as string;
}

const refusedClient = { error: 'invalid_client', error_description: 'client authentication failed' };

test('a key-only keypair gets tokens with assertions signed by its key (aud: token endpoint or issuer)', async (t) => {
  const signer = await newSigner('ES256');
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'key-only', scopes: ['orders:read'], secret: false, publicKeys: [JSON.stringify(signer.publicJwk)] });
  t.is(created.status, 201, JSON.stringify(created.body));
  t.is(created.body.secret, null);
  const keypair = created.body.keypair;
  t.deepEqual(keypair.secrets, []);
  t.is(keypair.publicKeys.length, 1);
  t.like(keypair.publicKeys[0], { thumbprint: await calculateJwkThumbprint(signer.publicJwk), kty: 'EC', crv: 'P-256', algs: ['ES256'], state: 'current', expiresAt: null, lastUsedAt: null });

  const first = await tokenWith(await assertion(keypair.keyId, signer));
  t.is(first.status, 200, JSON.stringify(first.body));
  t.is(first.body.token_type, 'Bearer');
  t.is(first.body.scope, 'orders:read');
  const toIssuer = await tokenWith(await assertion(keypair.keyId, signer, { claims: { aud: tk.url } }));
  t.is(toIssuer.status, 200, JSON.stringify(toIssuer.body));

  // A key-only keypair has no secret to guess: any secret is refused.
  const bySecret = await fetch(tokenUrl(), { method: 'POST', headers: { authorization: basic(keypair.keyId, 'kps_anything'), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
  t.is(bySecret.status, 401);

  // Last used, per key.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const read = await admin.get(`/keypairs/${keypair.keyId}`);
  t.truthy(read.body.publicKeys[0].lastUsedAt);
});

test('a keypair with a secret takes PEM keys beside it (RSA for RS256 and PS256, Ed25519 for EdDSA); both ways work', async (t) => {
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'both', scopes: ['orders:read'] });
  const { keyId } = created.body.keypair;
  const secret = created.body.secret as string;
  const rsa = await newSigner('RS256');
  const ed = await newSigner('EdDSA');
  const rsaPem = pemOf(rsa.publicJwk);
  const addedRsa = await admin.post(`/keypairs/${keyId}/keys`, { key: rsaPem });
  t.is(addedRsa.status, 201, JSON.stringify(addedRsa.body));
  t.deepEqual(addedRsa.body.publicKeys[0].algs, ['RS256', 'PS256']);
  const edPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
  t.is((await admin.post(`/keypairs/${keyId}/keys`, { key: edPem })).status, 201);
  t.is((await admin.post(`/keypairs/${keyId}/keys`, { key: ed.publicJwk })).status, 201);

  t.is((await tokenWith(await assertion(keyId, rsa))).status, 200);
  t.is((await tokenWith(await assertion(keyId, { ...rsa, alg: 'PS256' }))).status, 200);
  t.is((await tokenWith(await assertion(keyId, ed))).status, 200);
  const bySecret = await fetch(tokenUrl(), { method: 'POST', headers: { authorization: basic(keyId, secret), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
  t.is(bySecret.status, 200);

  const audit = await admin.get(`/keypairs/${keyId}/audit`);
  t.is(audit.body.items.filter((e: { action: string }) => e.action === 'keypair.key_added').length, 3);
});

test('key uploads refused with a clear 400: small RSA, private keys (JWK and PEM), symmetric keys, other curves, a JWK Set, a wrong alg', async (t) => {
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'uploads' });
  const { keyId } = created.body.keypair;
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const refusals: [unknown, RegExp][] = [
    [small.publicKey.export({ type: 'spki', format: 'pem' }), /at least 2048 bits \(this one has 1024\)/],
    [small.publicKey.export({ format: 'jwk' }), /at least 2048 bits/],
    [ec.privateKey.export({ format: 'jwk' }), /private key/],
    [ec.privateKey.export({ type: 'pkcs8', format: 'pem' }), /private key/],
    [ec.privateKey.export({ type: 'sec1', format: 'pem' }), /private key/],
    [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' }, /symmetric/],
    [generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey.export({ format: 'jwk' }), /curve P-521 is not accepted/],
    [generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }), /curve X25519 is not accepted/],
    [{ keys: [ec.publicKey.export({ format: 'jwk' })] }, /one JWK, not a JWK Set/],
    [{ ...ec.publicKey.export({ format: 'jwk' }), alg: 'RS256' }, /alg RS256 does not belong to this key/],
    [{ ...ec.publicKey.export({ format: 'jwk' }), alg: 'HS256' }, /alg must be one of/],
    ['not a key', /JWK \(JSON\) or as PEM/],
    [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }, /not a valid public key/],
  ];
  for (const [key, message] of refusals) {
    const res = await admin.post(`/keypairs/${keyId}/keys`, { key });
    t.is(res.status, 400, `${JSON.stringify(key).slice(0, 60)}: ${JSON.stringify(res.body)}`);
    t.is(res.body.error.code, 'validation_failed');
    t.regex(res.body.error.message, message);
  }
  // Nothing was stored.
  t.deepEqual((await admin.get(`/keypairs/${keyId}`)).body.publicKeys, []);
  // Creating with a bad key creates nothing either.
  const before = (await admin.get(`/environments/${tenant.productionId}/keypairs?q=refused`)).body.total;
  const bad = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'refused', secret: false, publicKeys: [small.publicKey.export({ format: 'jwk' })] });
  t.is(bad.status, 400);
  t.is((await admin.get(`/environments/${tenant.productionId}/keypairs?q=refused`)).body.total, before);
  const noKey = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'refused', secret: false });
  t.is(noKey.status, 400);
  t.regex(noKey.body.error.message, /needs at least one public key/);
});

test('at most 5 keys; the same key twice is a conflict', async (t) => {
  const signers = await Promise.all([1, 2, 3, 4, 5].map(() => newSigner('ES256')));
  const keyId = await keyOnlyKeypair(signers[0]!, 'five');
  for (const signer of signers.slice(1)) t.is((await admin.post(`/keypairs/${keyId}/keys`, { key: signer.publicJwk })).status, 201);
  const sixth = await admin.post(`/keypairs/${keyId}/keys`, { key: (await newSigner()).publicJwk });
  t.is(sixth.status, 409);
  t.regex(sixth.body.error.message, /at most 5 public keys/);
  const again = await admin.post(`/keypairs/${keyId}/keys`, { key: signers[1]!.publicJwk });
  t.is(again.status, 409);
});

test.serial('a replayed assertion is refused, also after a restart (the jti store is in the database)', async (t) => {
  const signer = await newSigner();
  const keyId = await keyOnlyKeypair(signer, 'replay');
  const once = await assertion(keyId, signer);
  t.is((await tokenWith(once)).status, 200);
  const replay = await tokenWith(once);
  t.is(replay.status, 401);
  t.deepEqual(replay.body, refusedClient);
  // The same fresh assertion sent 8 times at once: the database's unique index lets exactly one through.
  const raced = await assertion(keyId, signer);
  const statuses = (await Promise.all(Array.from({ length: 8 }, () => tokenWith(raced)))).map((answer) => answer.status).sort();
  t.deepEqual(statuses, [200, 401, 401, 401, 401, 401, 401, 401]);
  await admin.post(`/keypairs/${keyId}/unlock`);
  await tk.restart();
  t.is((await tokenWith(once)).status, 401, 'a new process knows the jti');
  t.is((await tokenWith(await assertion(keyId, signer))).status, 200, 'a fresh jti still works');
});

test('assertions refused: wrong aud, expired, exp too far ahead, iat in the future, no jti, sub other than iss', async (t) => {
  const signer = await newSigner();
  const keyId = await keyOnlyKeypair(signer, 'claims');
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Record<string, unknown>][] = [
    ['wrong aud', { aud: 'https://elsewhere.example/oauth/token' }],
    ['expired', { iat: now - 600, exp: now - 60 }],
    ['exp 10 minutes ahead', { exp: now + 600 }],
    ['iat in the future', { iat: now + 120, exp: now + 180 }],
    ['no jti', { jti: null }],
  ];
  for (const [name, claims] of cases) {
    const answer = await tokenWith(await assertion(keyId, signer, { claims }));
    t.is(answer.status, 401, name);
    t.deepEqual(answer.body, refusedClient, name);
    // Unlock between cases: this test is about each rule, not about lockout.
    await admin.post(`/keypairs/${keyId}/unlock`);
  }
  // sub other than iss: oidc-provider takes the client from sub, so iss no longer matches it.
  const other = await tokenWith(await assertion(keyId, signer, { claims: { sub: 'kp_someoneelse' } }));
  t.is(other.status, 401);
  t.is((await tokenWith(await assertion(keyId, signer))).status, 200, 'the same key with sound claims works');
});

test('alg none, HS256 keyed with the public key, and another keypair\'s key are refused', async (t) => {
  const signer = await newSigner('ES256');
  const keyId = await keyOnlyKeypair(signer, 'algs');
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: keyId, sub: keyId, aud: tokenUrl(), jti: randomUUID(), iat: now, exp: now + 60 };
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  const none = `${b64({ alg: 'none' })}.${b64(claims)}.`;
  t.is((await tokenWith(none)).status, 401, 'alg none');

  // The classic confusion: an HMAC whose key is the public key (as JWK JSON, and as PEM).
  for (const hmacKey of [JSON.stringify(signer.publicJwk), pemOf(signer.publicJwk)]) {
    const input = `${b64({ alg: 'HS256' })}.${b64({ ...claims, jti: randomUUID() })}`;
    const forged = `${input}.${createHmac('sha256', hmacKey).update(input).digest('base64url')}`;
    t.is((await tokenWith(forged)).status, 401, 'HS256 with the public key');
  }

  // A keypair with a secret and no keys: an HMAC assertion keyed with anything (here the
  // placeholder oidc-provider is given for secret clients) never authenticates it.
  const secretOnly = (await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'secret only', scopes: ['orders:read'] })).body.keypair.keyId as string;
  const hsInput = `${b64({ alg: 'HS256' })}.${b64({ ...claims, iss: secretOnly, sub: secretOnly, jti: randomUUID() })}`;
  const hsForged = `${hsInput}.${createHmac('sha256', 'keyport-verifies-hashed-secrets').update(hsInput).digest('base64url')}`;
  t.is((await tokenWith(hsForged)).status, 401, 'client_secret_jwt is not accepted');

  // Keypair B's key, claiming to be keypair A.
  const otherSigner = await newSigner('ES256');
  await keyOnlyKeypair(otherSigner, 'other');
  const borrowed = await tokenWith(await assertion(keyId, otherSigner));
  t.is(borrowed.status, 401, 'another keypair\'s key');
  t.deepEqual(borrowed.body, refusedClient);

  // ES384 header on a P-256 key: the alg must belong to the key.
  const b64sig = (await assertion(keyId, signer)).split('.')[2];
  const wrongAlg = await tokenWith(`${b64({ alg: 'ES384' })}.${b64({ ...claims, jti: randomUUID() })}.${b64sig}`);
  t.is(wrongAlg.status, 401, 'an alg the key does not have');
});

test('failed assertions count toward lockout; a locked keypair refuses even a valid assertion', async (t) => {
  const signer = await newSigner();
  const keyId = await keyOnlyKeypair(signer, 'lockout');
  const stranger = await newSigner();
  for (let i = 0; i < 5; i++) t.is((await tokenWith(await assertion(keyId, stranger))).status, 401);
  await tk.keyport.domain.keypairAuth.failuresCounted(keyId);
  const read = await admin.get(`/keypairs/${keyId}`);
  t.is(read.body.status, 'locked', JSON.stringify(read.body));
  t.is((await tokenWith(await assertion(keyId, signer))).status, 401, 'locked');
  const audit = await admin.get(`/keypairs/${keyId}/audit`);
  t.true(audit.body.items.some((e: { action: string }) => e.action === 'keypair.locked'));
  t.is((await admin.post(`/keypairs/${keyId}/unlock`)).status, 200);
  t.is((await tokenWith(await assertion(keyId, signer))).status, 200, 'unlocked');
});

test.serial('retiring a key: with a grace period it works until then; at once it stops; the last key of a key-only keypair stays', async (t) => {
  const old = await newSigner('ES256');
  const fresh = await newSigner('ES384');
  const keyId = await keyOnlyKeypair(old, 'retire');
  const oldThumb = await calculateJwkThumbprint(old.publicJwk);
  const last = await admin.post(`/keypairs/${keyId}/keys/${oldThumb}/retire`, { grace: '0' });
  t.is(last.status, 409);
  t.regex(last.body.error.message, /last current key/);

  t.is((await admin.post(`/keypairs/${keyId}/keys`, { key: fresh.publicJwk })).status, 201);
  const retired = await admin.post(`/keypairs/${keyId}/keys/${oldThumb}/retire`, { grace: '1h' });
  t.is(retired.status, 200, JSON.stringify(retired.body));
  t.like(retired.body.publicKeys.find((k: { thumbprint: string }) => k.thumbprint === oldThumb), { state: 'retiring' });
  t.is((await tokenWith(await assertion(keyId, old))).status, 200, 'during the grace period');
  tk.clock.advance(2 * HOUR);
  try {
    t.is((await tokenWith(await assertion(keyId, old))).status, 401, 'after the grace period');
    t.is((await tokenWith(await assertion(keyId, fresh))).status, 200, 'the new key');
    const read = await admin.get(`/keypairs/${keyId}`);
    t.deepEqual(read.body.publicKeys.map((k: { thumbprint: string }) => k.thumbprint), [await calculateJwkThumbprint(fresh.publicJwk)]);
  } finally {
    tk.clock.advance(-2 * HOUR);
  }
  await admin.post(`/keypairs/${keyId}/unlock`);
  // At once: a second key, retired with grace 0, stops immediately.
  const third = await newSigner('ES256');
  await admin.post(`/keypairs/${keyId}/keys`, { key: third.publicJwk });
  t.is((await tokenWith(await assertion(keyId, third))).status, 200);
  const now = await admin.post(`/keypairs/${keyId}/keys/${await calculateJwkThumbprint(third.publicJwk)}/retire`, {});
  t.is(now.status, 200);
  t.is((await tokenWith(await assertion(keyId, third))).status, 401);
  const audit = await admin.get(`/keypairs/${keyId}/audit`);
  t.true(audit.body.items.some((e: { action: string; details: { grace?: string } }) => e.action === 'keypair.key_retired' && e.details.grace === '1h'));
  t.is((await admin.post(`/keypairs/${keyId}/keys/${'A'.repeat(43)}/retire`, {})).status, 404);
});

test('a disabled key-based keypair gets no token', async (t) => {
  const signer = await newSigner();
  const keyId = await keyOnlyKeypair(signer, 'disabled');
  await admin.post(`/keypairs/${keyId}/disable`);
  t.is((await tokenWith(await assertion(keyId, signer))).status, 401);
});

test.serial('an expired key-based keypair gets no token, and the refusals are not counted toward lockout', async (t) => {
  const signer = await newSigner();
  const keyId = await keyOnlyKeypair(signer, 'expiring');
  t.is((await admin.patch(`/keypairs/${keyId}`, { expiresAt: new Date(tk.clock.now().getTime() + HOUR).toISOString() })).status, 200);
  t.is((await tokenWith(await assertion(keyId, signer))).status, 200, 'valid until it expires');
  tk.clock.advance(2 * HOUR);
  t.teardown(() => tk.clock.advance(-2 * HOUR));
  for (let i = 0; i < 6; i++) t.is((await tokenWith(await assertion(keyId, signer))).status, 401);
  const keypair = await admin.get(`/keypairs/${keyId}`);
  t.true(keypair.body.expired);
  t.is(keypair.body.failedAttempts, 0);
  t.false(keypair.body.locked);
});

test('discovery advertises private_key_jwt and the accepted algorithms', async (t) => {
  const metadata = await (await fetch(`${tk.url}/.well-known/oauth-authorization-server`)).json() as Record<string, string[]>;
  t.true(metadata.token_endpoint_auth_methods_supported!.includes('private_key_jwt'));
  t.deepEqual([...metadata.token_endpoint_auth_signing_alg_values_supported!].sort(), ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256']);
});

test('web UI: the keypair page shows its keys by thumbprint; a pasted PEM key is added, a private key refused, a key retired', async (t) => {
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'ui keys', scopes: ['orders:read'] });
  const { keyId } = created.body.keypair;
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const pagePath = `/ui/keypairs/${keyId}`;
  const before = await ui.get(pagePath);
  t.is(before.status, 200);
  t.regex(before.html, /authenticates with its secret only/);

  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const added = await ui.submit(pagePath, `/ui/keypairs/${keyId}/keys`, { key: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string });
  t.is(added.status, 303, added.html.slice(0, 300));
  const thumbprint = await calculateJwkThumbprint(pair.publicKey.export({ format: 'jwk' }));
  const after = await ui.get(pagePath);
  t.true(after.html.includes(`<code>${thumbprint}</code>`), "the thumbprint is shown");

  const refused = await ui.submit(pagePath, `/ui/keypairs/${keyId}/keys`, { key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
  t.is(refused.status, 400);
  t.regex(refused.html, /private key/);
  t.false(refused.html.includes('PRIVATE KEY-----'), 'the private key is not echoed back');

  const retired = await ui.submit(pagePath, `/ui/keypairs/${keyId}/keys/${thumbprint}/retire`, { grace: '0' });
  t.is(retired.status, 303);
  t.false((await ui.get(pagePath)).html.includes(`<code>${thumbprint}</code>`), "the key is no longer listed");
  t.deepEqual((await admin.get(`/keypairs/${keyId}`)).body.publicKeys, []);
});

test('web UI: a key-only keypair from the new-keypair form gets tokens with its key; a pasted private key is refused and not echoed', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const newPage = `/ui/environments/${tenant.productionId}/keypairs/new`;
  const action = `/ui/environments/${tenant.productionId}/keypairs`;
  const signer = await newSigner('ES256');
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const refused = await ui.submit(newPage, action, { name: 'ui refused', scopes: ['orders:read'], publicKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, noSecret: 'yes' });
  t.is(refused.status, 400);
  t.regex(refused.html, /private key/);
  t.false(refused.html.includes('PRIVATE KEY-----'));

  const created = await ui.submit(newPage, action, { name: 'ui signer', scopes: ['orders:read'], publicKey: pemOf(signer.publicJwk), noSecret: 'yes' });
  t.is(created.status, 303, created.html.slice(0, 300));
  const keyId = /\/ui\/keypairs\/(kp_[0-9A-Za-z]+)/.exec(created.location ?? '')?.[1];
  t.truthy(keyId);
  const page = await ui.get(`/ui/keypairs/${keyId}`);
  t.true(page.html.includes(`<code>${await calculateJwkThumbprint(signer.publicJwk)}</code>`));
  t.false(page.html.includes('kps_'), 'no secret anywhere');
  t.is((await tokenWith(await assertion(keyId!, signer))).status, 200);
});
