// Keyport's verifier of its own access tokens (introspection, revocation, admin
// API bearer tokens): a token verified once is remembered by its exact text, and
// expiry and audience are still checked on every call, as jwtVerify checks them.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AccessTokenVerifier } from '../src/oauth/access-tokens.ts';

const ISSUER = 'https://keyport.example.com';

async function setup() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = 'test-key';
  const verifier = new AccessTokenVerifier(ISSUER, { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] });
  const sign = (claims: { exp: number; aud?: string | string[]; iss?: string }) => new SignJWT({ client_id: 'kp_test', scope: 'orders:read' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
    .setIssuer(claims.iss ?? ISSUER)
    .setSubject('kp_test')
    .setAudience(claims.aud ?? 'https://api.example.com')
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(claims.exp)
    .sign(privateKey);
  return { verifier, sign };
}

test('a verified token is remembered, yet stops verifying the second it expires (unless expired tokens are allowed)', async (t) => {
  const { verifier, sign } = await setup();
  const exp = Math.floor(Date.now() / 1000) + 2;
  const token = await sign({ exp });
  t.is((await verifier.verify(token))?.exp, exp);
  t.is((await verifier.verify(token))?.exp, exp, 'again, from what was remembered');
  await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 20));
  t.is(await verifier.verify(token), null, 'expired: refused although remembered');
  t.is((await verifier.verify(token, { allowExpired: true }))?.exp, exp, 'revocation reads expired tokens too');
});

test('the audience is checked on every call, for a remembered token too', async (t) => {
  const { verifier, sign } = await setup();
  const exp = Math.floor(Date.now() / 1000) + 600;
  const token = await sign({ exp, aud: 'https://api.example.com' });
  t.truthy(await verifier.verify(token));
  t.is(await verifier.verify(token, { audience: 'urn:keyport:admin-api' }), null);
  t.truthy(await verifier.verify(token, { audience: 'https://api.example.com' }));
  const both = await sign({ exp, aud: ['https://api.example.com', 'urn:keyport:admin-api'] });
  t.truthy(await verifier.verify(both, { audience: 'urn:keyport:admin-api' }));
  t.truthy(await verifier.verify(both, { audience: 'urn:keyport:admin-api' }), 'remembered, and the array still names it');
  t.is(await verifier.verify(both, { audience: 'https://other.example.com' }), null);
});

test('only a token that passed is remembered, by its exact text: a changed signature or another issuer is refused every time', async (t) => {
  const { verifier, sign } = await setup();
  const exp = Math.floor(Date.now() / 1000) + 600;
  const token = await sign({ exp });
  t.truthy(await verifier.verify(token));
  const [header, payload, signature] = token.split('.');
  const flipped = `${header}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'AB' : 'AA'}`;
  t.is(await verifier.verify(flipped), null);
  t.is(await verifier.verify(flipped), null);
  const foreign = await sign({ exp, iss: 'https://evil.example.com' });
  t.is(await verifier.verify(foreign), null);
  t.is(await verifier.verify(foreign), null);
});
