// Hostile request bodies at the OAuth endpoints (token, introspection,
// revocation): nested form fields, repeated parameters, oversized and
// malformed bodies each get a 4xx OAuth JSON error, never a 500, and change
// nothing: the keypair is not locked, the token stays active.
import anyTest, { type TestFn } from 'ava';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { basic, getToken, introspect, seedKeypair } from '../helpers/oauth.ts';

interface Context { kp: TestKeyport; seed: { keyId: string; secret: string; accountId: string }; token: string }
const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  const kp = await startTestKeyport();
  const seed = await seedKeypair(kp.keyport, { owner: 'account', scopes: ['orders:read', 'keyport:introspect'] });
  t.context = { kp, seed, token: await getToken(kp.url, seed) };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

type Case = [name: string, path: string, body: string, contentType?: string];
const FORM = 'application/x-www-form-urlencoded';

const CASES: Case[] = [
  ['token: grant_type twice', '/oauth/token', 'grant_type=client_credentials&grant_type=client_credentials'],
  ['token: scope twice', '/oauth/token', 'grant_type=client_credentials&scope=orders:read&scope=keyport:introspect'],
  ['token: an oversized body', '/oauth/token', `grant_type=client_credentials&scope=${'a'.repeat(200_000)}`],
  ['token: a JSON body', '/oauth/token', JSON.stringify({ grant_type: 'client_credentials' }), 'application/json'],
  ['introspection: a nested token field', '/oauth/introspect', 'token[a][b][c]=x'],
  ['introspection: token twice', '/oauth/introspect', 'token=a&token=b'],
  ['introspection: an oversized body', '/oauth/introspect', `token=${'a'.repeat(40_000)}`],
  ['introspection: a JSON body', '/oauth/introspect', '{"token":"x"}', 'application/json'],
  ['revocation: a nested token field', '/oauth/revoke', 'token[$ne]=x'],
  ['revocation: an oversized body', '/oauth/revoke', `token=${'a'.repeat(40_000)}`],
];

test.serial('token: unrecognised parameters, nested-looking ones included, are ignored (RFC 6749 §3.2), never read as scope', async (t) => {
  const { kp, seed } = t.context;
  const res = await fetch(`${kp.url}/oauth/token`, { method: 'POST', headers: { authorization: basic(seed.keyId, seed.secret), 'content-type': FORM }, body: 'grant_type=client_credentials&scope=orders:read&scope[a][b]=keyport:introspect&scope[]=x' });
  t.is(res.status, 200);
  t.is((await res.json() as { scope: string }).scope, 'orders:read');
});

test.serial('introspection: a token that is not even well-encoded is simply inactive (RFC 7662)', async (t) => {
  const { kp, seed } = t.context;
  const res = await fetch(`${kp.url}/oauth/introspect`, { method: 'POST', headers: { authorization: basic(seed.keyId, seed.secret), 'content-type': FORM }, body: 'token=%E0%A4%A' });
  t.true(res.status === 200 || res.status === 400, `got ${res.status}`);
  if (res.status === 200) t.deepEqual(await res.json(), { active: false });
});

for (const [name, path, body, contentType = FORM] of CASES) {
  test.serial(name, async (t) => {
    const { kp, seed, token } = t.context;
    const res = await fetch(`${kp.url}${path}`, { method: 'POST', headers: { authorization: basic(seed.keyId, seed.secret), 'content-type': contentType }, body });
    t.true(res.status >= 400 && res.status < 500, `a 4xx, got ${res.status}`);
    t.regex(res.headers.get('content-type') ?? '', /^application\/json/);
    const answer = await res.json() as { error?: unknown };
    t.is(typeof answer.error, 'string', 'an OAuth error code');
    // Nothing changed: the right secret still gets a token, and the token is still active.
    t.truthy(await getToken(kp.url, seed));
    t.is((await introspect(kp.url, seed, token)).active, true);
  });
}
