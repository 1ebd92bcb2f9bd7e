// Forged access tokens, the classic JWT attacks, against every place that
// accepts Keyport tokens: Keyport's introspection, its admin API (bearer
// tokens) and the resource-server kit keyport/verify. Each forgery carries the
// claims of a real token of a real keypair, so only the forgery itself can be
// what refuses it. Key-fetching headers (jku, x5u, jwk) point at a server of
// the test's own, which must never be asked for anything.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import anyTest, { type TestFn } from 'ava';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { createVerifier, TokenError } from 'keyport/verify';
import { ApiClient } from '../helpers/api.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { getToken, introspect, seedKeypair } from '../helpers/oauth.ts';

interface Context {
  kp: TestKeyport;
  /** A keypair allowed to introspect its account's tokens, and to use the admin API. */
  caller: { keyId: string; secret: string; accountId: string };
  /** The claims of a real admin API token of `caller`. */
  realClaims: JWTPayload;
  realHeader: { kid: string };
  /** The attacker's key server: every request it gets is recorded. */
  trap: { url: string; server: Server; requests: string[] };
}

const test = anyTest as TestFn<Context>;
const ADMIN_API = 'urn:keyport:admin-api';

test.before(async (t) => {
  const kp = await startTestKeyport();
  const caller = await seedKeypair(kp.keyport, { owner: 'account', scopes: ['keyport:introspect', 'keyport:read'] });
  const real = await getToken(kp.url, { ...caller, scope: 'keyport:read', resource: ADMIN_API });
  const [header, payload] = real.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.context = {
    kp,
    caller,
    realClaims: payload as JWTPayload,
    realHeader: { kid: String(header!.kid) },
    trap: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests },
  };
});
test.after.always(async (t) => {
  await new Promise<void>((resolve) => t.context.trap?.server.close(() => resolve()));
  await t.context.kp?.close();
});

/** Fresh claims copied from the real token (a new jti: nothing is remembered from the real one). */
const claims = (t: { context: Context }): JWTPayload => ({ ...t.context.realClaims, jti: `forged-${Math.random().toString(36).slice(2)}` });

function unsigned(header: object, payload: JWTPayload): string {
  const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part(header)}.${part(payload)}.`;
}

interface Forgery { name: string; make: (t: { context: Context }) => Promise<string> }

const FORGERIES: Forgery[] = [
  { name: 'alg none', make: async (t) => unsigned({ alg: 'none', typ: 'at+jwt', kid: t.context.realHeader.kid }, claims(t)) },
  { name: 'alg none, no signature part at all', make: async (t) => unsigned({ alg: 'none', typ: 'at+jwt' }, claims(t)).slice(0, -1) },
  {
    name: 'HS256 keyed with Keyport\'s public key (algorithm confusion)',
    make: async (t) => {
      const jwks = await (await fetch(`${t.context.kp.url}/oauth/jwks`)).json() as { keys: Record<string, unknown>[] };
      const published = jwks.keys.find((k) => k.kid === t.context.realHeader.kid) ?? jwks.keys[0]!;
      return new SignJWT(claims(t)).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: t.context.realHeader.kid }).sign(new TextEncoder().encode(JSON.stringify(published)));
    },
  },
  {
    name: 'a foreign ES256 key under Keyport\'s kid',
    make: async (t) => {
      const { privateKey } = await generateKeyPair('ES256');
      return new SignJWT(claims(t)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: t.context.realHeader.kid }).sign(privateKey);
    },
  },
  {
    name: 'a foreign key embedded in the header (jwk)',
    make: async (t) => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      return new SignJWT(claims(t)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', jwk: await exportJWK(publicKey) }).sign(privateKey);
    },
  },
  {
    name: 'a foreign key at a URL in the header (jku)',
    make: async (t) => {
      const { privateKey } = await generateKeyPair('ES256');
      return new SignJWT(claims(t)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker', jku: `${t.context.trap.url}/jwks.json` }).sign(privateKey);
    },
  },
  {
    name: 'a foreign certificate at a URL in the header (x5u)',
    make: async (t) => {
      const { privateKey } = await generateKeyPair('ES256');
      return new SignJWT(claims(t)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', x5u: `${t.context.trap.url}/cert.pem` }).sign(privateKey);
    },
  },
  {
    name: 'a path in the kid',
    make: async (t) => {
      const { privateKey } = await generateKeyPair('ES256');
      return new SignJWT(claims(t)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: '../../../../dev/null' }).sign(privateKey);
    },
  },
  {
    name: 'the real token with its claims changed (signature kept)',
    make: async (t) => {
      const real = await getToken(t.context.kp.url, { ...t.context.caller, scope: 'keyport:read', resource: ADMIN_API });
      const [header, , signature] = real.split('.');
      const payload = Buffer.from(JSON.stringify({ ...claims(t), scope: 'keyport:manage' })).toString('base64url');
      return `${header}.${payload}.${signature}`;
    },
  },
  {
    name: 'the real token with typ JWT (header changed, signature kept)',
    make: async (t) => {
      const real = await getToken(t.context.kp.url, { ...t.context.caller, scope: 'keyport:read', resource: ADMIN_API });
      const [header, payload, signature] = real.split('.');
      const changed = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header!, 'base64url').toString()), typ: 'JWT' })).toString('base64url');
      return `${changed}.${payload}.${signature}`;
    },
  },
];

test('the real token passes everywhere (so each refusal below is the forgery\'s)', async (t) => {
  const real = await getToken(t.context.kp.url, { ...t.context.caller, scope: 'keyport:read', resource: ADMIN_API });
  t.is((await introspect(t.context.kp.url, t.context.caller, real)).active, true);
  t.is((await ApiClient.withToken(t.context.kp.url, real).get(`/accounts/${t.context.caller.accountId}`)).status, 200);
  const verifier = createVerifier({ issuer: t.context.kp.url, audience: ADMIN_API, tenants: { accounts: [t.context.caller.accountId] } });
  t.is((await verifier.verify(real)).clientId, t.context.caller.keyId);
});

for (const forgery of FORGERIES) {
  test(`forged: ${forgery.name}: refused by introspection, the admin API and keyport/verify, with nothing fetched`, async (t) => {
    const token = await forgery.make(t);
    const before = t.context.trap.requests.length;

    t.deepEqual(await introspect(t.context.kp.url, t.context.caller, token), { active: false });

    const api = await ApiClient.withToken(t.context.kp.url, token).get(`/accounts/${t.context.caller.accountId}`);
    t.true(api.status === 401 || api.status === 400, `admin API: ${api.status}`);

    const verifier = createVerifier({ issuer: t.context.kp.url, audience: ADMIN_API, tenants: { accounts: [t.context.caller.accountId] } });
    const refusal = await t.throwsAsync(verifier.verify(token), { instanceOf: TokenError });
    t.true(refusal.status === 401 || refusal.status === 400, `keyport/verify: ${refusal.status} ${refusal.message}`);

    t.is(t.context.trap.requests.length, before, 'no key or certificate was fetched from a URL in the token');
  });
}
