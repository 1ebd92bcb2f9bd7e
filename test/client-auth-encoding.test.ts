// RFC 6749 §2.3.1: in HTTP Basic, the client id and secret are form-urlencoded
// before Base64. Keyport's ids and secrets are base62 and never need it, but a
// client library that encodes anyway (percent-encoding every character is
// legal) must be accepted the same way at every endpoint that authenticates
// clients: the token endpoint, introspection and revocation.
import anyTest, { type TestFn } from 'ava';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { newKeyId, newSecret } from '../src/domain/credentials.ts';
import { getToken, seedKeypair } from './helpers/oauth.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

/** Percent-encodes every character: the most an encoder may do, and still the same value once decoded. */
const percentAll = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
const basicRaw = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

function post(url: string, path: string, authorization: string, body: Record<string, string>) {
  return fetch(`${url}${path}`, { method: 'POST', headers: { ...form, authorization }, body: new URLSearchParams(body) });
}

test('a percent-encoded key id and secret in HTTP Basic are accepted at the token endpoint, introspection and revocation', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const authorization = basicRaw(percentAll(seed.keyId), percentAll(seed.secret));

  const issued = await post(kp.url, '/oauth/token', authorization, { grant_type: 'client_credentials' });
  t.is(issued.status, 200, 'token endpoint');
  const { access_token: token } = await issued.json() as { access_token: string };

  const introspected = await post(kp.url, '/oauth/introspect', authorization, { token });
  t.is(introspected.status, 200, 'introspection');
  t.is((await introspected.json() as { active: boolean }).active, true);

  const other = await getToken(kp.url, seed);
  const revoked = await post(kp.url, '/oauth/revoke', authorization, { token: other });
  t.is(revoked.status, 200, 'revocation');
});

test('a secret encoded with "+" for a space decodes to a different secret: refused alike at the token endpoint and introspection', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const token = await getToken(kp.url, seed);
  // "+" is a space once form-decoded, so the secret with one appended is not the secret.
  const authorization = basicRaw(seed.keyId, `${seed.secret}+`);
  const issued = await post(kp.url, '/oauth/token', authorization, { grant_type: 'client_credentials' });
  t.is(issued.status, 401);
  const introspected = await post(kp.url, '/oauth/introspect', authorization, { token });
  t.is(introspected.status, 401);
});

test('a Basic header whose parts are not valid form encoding is invalid_request at every endpoint', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const token = await getToken(kp.url, seed);
  const authorization = basicRaw(seed.keyId, `${seed.secret}%ZZ`);
  for (const [path, body] of [['/oauth/token', { grant_type: 'client_credentials' }], ['/oauth/introspect', { token }], ['/oauth/revoke', { token }]] as const) {
    const answer = await post(kp.url, path, authorization, body);
    t.is(answer.status, 400, path);
    t.is((await answer.json() as { error: string }).error, 'invalid_request', path);
  }
});

test('an unknown key id with a percent-encoded secret: the equal-cost check gets the decoded secret at the token endpoint and at introspection alike', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const token = await getToken(kp.url, seed);
  const unknownId = newKeyId();
  const secret = newSecret();
  const authorization = basicRaw(unknownId, percentAll(secret));
  // Watch what the domain's secret check receives: for an unknown key id it
  // spends one HMAC on the presented secret, which it does only for a secret of
  // the right format; an undecoded secret fails the format check and costs
  // nothing, so an unknown key would answer faster than a known one.
  const keypairAuth = kp.keyport.domain.keypairAuth;
  const original = keypairAuth.authenticate;
  const seen: { path: string; keyId: string; secret: string }[] = [];
  let path = '';
  keypairAuth.authenticate = function (this: typeof keypairAuth, keyId, presented, preloaded) {
    if (keyId === unknownId) seen.push({ path, keyId, secret: presented }); // the other tests run meanwhile
    return original.call(this, keyId, presented, preloaded);
  };
  try {
    path = '/oauth/token';
    const issued = await post(kp.url, path, authorization, { grant_type: 'client_credentials' });
    t.is(issued.status, 401);
    t.is((await issued.json() as { error: string }).error, 'invalid_client');
    path = '/oauth/introspect';
    const introspected = await post(kp.url, path, authorization, { token });
    t.is(introspected.status, 401);
    t.is((await introspected.json() as { error: string }).error, 'invalid_client');
  } finally {
    keypairAuth.authenticate = original;
  }
  t.deepEqual(seen, [
    { path: '/oauth/token', keyId: unknownId, secret },
    { path: '/oauth/introspect', keyId: unknownId, secret },
  ]);
});
