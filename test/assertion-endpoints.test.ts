// Introspection and revocation authenticate their caller with private_key_jwt
// too (RFC 7523 §2.2), by the token endpoint's rules: a key of the keypair
// signed it, iss = sub = key id, aud the issuer, the token endpoint or the
// endpoint called, a short exp, the jti used once (shared with the token
// endpoint), the keypair's state; any failure is 401 invalid_client and counts
// toward the keypair's lockout. Over HTTP against a real Keyport.
import anyTest, { type TestFn } from 'ava';
import { SignJWT } from 'jose';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { ASSERTION_TYPE, assertionFields, clientAssertion, newSigner, type Signer } from './helpers/assertions.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { rawKeypair } from './helpers/keypair-state.ts';
import { basic } from './helpers/oauth.ts';

type Tenant = Awaited<ReturnType<typeof createTenant>>;
const test = anyTest.serial as TestFn<{ kp: TestKeyport; tenant: Tenant; admin: ApiClient }>;

test.before(async (t) => {
  // Many refused requests from one address: the per-address budget must not be what refuses them.
  const kp = await startTestKeyport({ overrides: { lockout: { mode: 'temporary', maxFailures: 50, durationSeconds: 900, maxTemporaryLocks: 5, maxFailuresPerAddress: 10_000, throttleDelayMs: 0 } } });
  const tenant = await createTenant(kp.keyport);
  await createUser(kp.keyport, 'admin@assertions.test', [[accountOwner(tenant.accountId), 'admin']]);
  t.context = { kp, tenant, admin: await ApiClient.signIn(kp.url, 'admin@assertions.test') };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

async function keyOnlyKeypair(t: { context: { tenant: Tenant; admin: ApiClient } }, signer: Signer, name: string): Promise<string> {
  const created = await t.context.admin.post(`/environments/${t.context.tenant.productionId}/keypairs`, { name, scopes: ['orders:read'], secret: false, publicKeys: [signer.publicJwk] });
  if (created.status !== 201) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.keypair.keyId as string;
}

async function post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) as Record<string, unknown> : null };
}

test('a keypair introspects and revokes its token with client assertions (aud: the endpoint, the token endpoint or the issuer)', async (t) => {
  const { kp } = t.context;
  const signer = await newSigner();
  const keyId = await keyOnlyKeypair(t, signer, 'introspects-with-a-key');
  const tokenUrl = `${kp.url}/oauth/token`;
  const introspectUrl = `${kp.url}/oauth/introspect`;
  const issued = await post(tokenUrl, { grant_type: 'client_credentials', ...assertionFields(await clientAssertion(tokenUrl, keyId, signer)) });
  t.is(issued.status, 200, JSON.stringify(issued.body));
  const token = issued.body!.access_token as string;

  for (const aud of [introspectUrl, tokenUrl, kp.url]) {
    const answer = await post(introspectUrl, { token, client_id: keyId, ...assertionFields(await clientAssertion(aud, keyId, signer)) });
    t.is(answer.status, 200, JSON.stringify(answer.body));
    t.like(answer.body, { active: true, client_id: keyId }, aud);
  }
  // client_id is optional: the assertion's iss names the keypair.
  t.like((await post(introspectUrl, { token, ...assertionFields(await clientAssertion(introspectUrl, keyId, signer)) })).body, { active: true });

  const revoked = await post(`${kp.url}/oauth/revoke`, { token, ...assertionFields(await clientAssertion(`${kp.url}/oauth/revoke`, keyId, signer)) });
  t.is(revoked.status, 200);
  t.deepEqual((await post(introspectUrl, { token, ...assertionFields(await clientAssertion(introspectUrl, keyId, signer)) })).body, { active: false });
});

test('a bad assertion is 401 invalid_client and counts toward the keypair\'s lockout; a mixed or malformed request is 400', async (t) => {
  const { kp } = t.context;
  const signer = await newSigner();
  const keyId = await keyOnlyKeypair(t, signer, 'refused-assertions');
  const tokenUrl = `${kp.url}/oauth/token`;
  const introspectUrl = `${kp.url}/oauth/introspect`;
  const issued = await post(tokenUrl, { grant_type: 'client_credentials', ...assertionFields(await clientAssertion(tokenUrl, keyId, signer)) });
  const token = issued.body!.access_token as string;
  const now = Math.floor(Date.now() / 1000);
  const unsigned = (claims: Record<string, unknown>) => `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  const replayed = await clientAssertion(introspectUrl, keyId, signer);
  t.is((await post(introspectUrl, { token, ...assertionFields(replayed) })).status, 200, 'first use');

  const refusals: [string, string][] = [
    ['another key signed it', await clientAssertion(introspectUrl, keyId, await newSigner())],
    ['a replayed jti (used here a moment ago)', replayed],
    ['aud is another server', await clientAssertion('https://elsewhere.example/oauth/introspect', keyId, signer)],
    ['expired', await clientAssertion(introspectUrl, keyId, signer, { iat: now - 600, exp: now - 300 })],
    ['exp too far ahead', await clientAssertion(introspectUrl, keyId, signer, { exp: now + 3600 })],
    ['sub is not the key id', await clientAssertion(introspectUrl, keyId, signer, { sub: 'kp_someone_else' })],
    ['no jti', await clientAssertion(introspectUrl, keyId, signer, { jti: undefined })],
    ['alg none', unsigned({ iss: keyId, sub: keyId, aud: introspectUrl, jti: 'none-1', iat: now, exp: now + 60 })],
    ['HS256 keyed with the public key', await new SignJWT({ iss: keyId, sub: keyId, aud: introspectUrl, jti: 'hs-1', iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(JSON.stringify(signer.publicJwk)))],
  ];
  for (const [what, assertion] of refusals) {
    const answer = await post(introspectUrl, { token, ...assertionFields(assertion) });
    t.is(answer.status, 401, what);
    t.deepEqual(answer.body, { error: 'invalid_client', error_description: 'client authentication failed' }, what);
  }
  await kp.keyport.domain.keypairAuth.failuresCounted(keyId);
  t.is((await rawKeypair(kp, keyId)).failedAttempts, refusals.length, 'each failed assertion counted toward the lockout');

  // The token endpoint's assertion cannot be used again here either (one replay store).
  const atTokenEndpoint = await clientAssertion(tokenUrl, keyId, signer);
  t.is((await post(tokenUrl, { grant_type: 'client_credentials', ...assertionFields(atTokenEndpoint) })).status, 200);
  t.is((await post(introspectUrl, { token, ...assertionFields(atTokenEndpoint) })).status, 401, 'replayed from the token endpoint');
  t.is((await post(`${kp.url}/oauth/revoke`, { token, ...assertionFields(await clientAssertion(kp.url, keyId, await newSigner())) })).status, 401, 'revocation too');

  await kp.keyport.domain.keypairAuth.failuresCounted(keyId);
  t.is((await rawKeypair(kp, keyId)).failedAttempts, 2, 'counted again after the success at the token endpoint reset the count');

  const good = () => clientAssertion(introspectUrl, keyId, signer);
  const mixed = await post(introspectUrl, { token, ...assertionFields(await good()) }, { authorization: basic(keyId, 'kps_whatever') });
  t.is(mixed.status, 400);
  t.like(mixed.body, { error: 'invalid_request' });
  const wrongType = await post(introspectUrl, { token, client_assertion_type: `${ASSERTION_TYPE}x`, client_assertion: await good() });
  t.is(wrongType.status, 400);
  t.like(wrongType.body, { error: 'invalid_request', error_description: `client_assertion_type must be ${ASSERTION_TYPE}` });
  const otherClient = await post(introspectUrl, { token, client_id: 'kp_000000000000000000000000', ...assertionFields(await good()) });
  t.is(otherClient.status, 401, 'client_id must name the assertion\'s keypair');
});

test('discovery lists private_key_jwt and its algorithms for introspection and revocation', async (t) => {
  const metadata = await (await fetch(`${t.context.kp.url}/.well-known/oauth-authorization-server`)).json() as Record<string, string[]>;
  for (const endpoint of ['introspection', 'revocation']) {
    t.deepEqual(metadata[`${endpoint}_endpoint_auth_methods_supported`], ['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
    t.deepEqual([...metadata[`${endpoint}_endpoint_auth_signing_alg_values_supported`]!].sort(), ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256']);
  }
});
