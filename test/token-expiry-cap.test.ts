// No token outlives its keypair: a keypair with an expiresAt sooner than the
// token lifetime gets tokens whose exp is that expiresAt, so that offline
// validators refuse them from that moment (before the expiry sweep and the
// revocation feed could tell them), and introspection answers inactive after it.
// Over HTTP against a real Keyport on the embedded database.
import anyTest, { type TestFn } from 'ava';
import { decodeJwt } from 'jose';
import { createVerifier, TokenError } from 'keyport/verify';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { introspect, seedKeypair, tokenRequest } from './helpers/oauth.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

async function issue(url: string, keyId: string, secret: string) {
  const response = await tokenRequest(url, { keyId, secret });
  const body = await response.json() as { access_token: string; expires_in: number };
  if (response.status !== 200) throw new Error(`token request failed: ${response.status} ${JSON.stringify(body)}`);
  return { ...body, claims: decodeJwt(body.access_token) as { iat: number; exp: number } };
}

/** A keypair (with keyport:introspect, to introspect its own tokens) expiring at `expiresAt`. */
async function keypairExpiringAt(kp: TestKeyport, expiresAt: Date | null) {
  const seeded = await seedKeypair(kp.keyport, { scopes: ['orders:read', 'keyport:introspect'] });
  if (expiresAt) await kp.keyport.domain.keypairs.update(seeded.keyId, { expiresAt }, 'system');
  return seeded;
}

test('a token of a keypair expiring within the token lifetime expires with the keypair; expires_in says so', async (t) => {
  const { kp } = t.context;
  const ttl = kp.config.tokens.ttlSeconds;
  const expiresAt = new Date(Date.now() + 90_000);
  const { keyId, secret } = await keypairExpiringAt(kp, expiresAt);
  const token = await issue(kp.url, keyId, secret);
  t.true(ttl > 90, 'the test needs a token lifetime longer than the keypair has left');
  t.is(token.claims.exp, Math.floor(expiresAt.getTime() / 1000), 'exp is the keypair\'s expiry');
  t.is(token.expires_in, token.claims.exp - token.claims.iat);
  t.true(token.expires_in <= 90 && token.expires_in >= 85, `expires_in ${token.expires_in}`);
});

test('a keypair expiring after the token lifetime, or never, gets the full lifetime', async (t) => {
  const { kp } = t.context;
  const ttl = kp.config.tokens.ttlSeconds;
  for (const expiresAt of [new Date(Date.now() + (ttl + 120) * 1000), null]) {
    const { keyId, secret } = await keypairExpiringAt(kp, expiresAt);
    const token = await issue(kp.url, keyId, secret);
    t.is(token.claims.exp - token.claims.iat, ttl, String(expiresAt));
    t.is(token.expires_in, ttl);
  }
});

test('introspection answers inactive once the keypair has expired, though the token was issued before', async (t) => {
  const { kp } = t.context;
  const expiresAt = new Date(Date.now() + 120_000);
  const caller = await keypairExpiringAt(kp, expiresAt);
  const { access_token: token } = await issue(kp.url, caller.keyId, caller.secret);
  // Another keypair of the same account introspects (the expired one can no longer authenticate).
  const introspector = await kp.keyport.domain.keypairs.create({ accountId: caller.accountId }, { name: 'introspector', scopes: ['keyport:introspect'] }, 'system');
  const asker = { keyId: introspector.keypair.keyId, secret: introspector.secret };
  t.is((await introspect(kp.url, asker, token)).active, true);
  kp.clock.advance(121_000);
  try {
    t.deepEqual(await introspect(kp.url, asker, token), { active: false });
  } finally {
    kp.clock.advance(-121_000);
  }
});

test('an offline validator refuses the token from the keypair\'s expiry on, with no introspection and no revocation feed yet', async (t) => {
  const { kp } = t.context;
  // A whole second two to three seconds ahead: the token's exp is that second.
  const expiresAt = new Date((Math.floor(Date.now() / 1000) + 3) * 1000);
  const { keyId, secret, accountId } = await keypairExpiringAt(kp, expiresAt);
  const { access_token: token } = await issue(kp.url, keyId, secret);
  const verifier = createVerifier({ issuer: kp.url, audience: kp.config.tokens.defaultAudience, tenants: { accounts: [accountId] }, clockTolerance: 0 });
  t.is((await verifier.verify(token)).claims.client_id, keyId, 'accepted before the expiry');
  await new Promise((resolve) => setTimeout(resolve, expiresAt.getTime() - Date.now() + 1100));
  const err = await t.throwsAsync(verifier.verify(token), { instanceOf: TokenError });
  t.is(err.status, 401);
  t.regex(err.message, /exp/);
});
