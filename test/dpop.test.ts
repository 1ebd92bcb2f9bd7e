// DPoP at the token endpoint (RFC 9449 §5) over HTTP: bound tokens, the proof
// checks, replay (recorded in the database), and the per-keypair requirement.
import { createHash } from 'node:crypto';
import anyTest, { type TestFn } from 'ava';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWK } from 'jose';
import { ApiClient, createUser } from './helpers/api.ts';
import { dpopKey, dpopProof, dpopTokenRequest } from './helpers/dpop.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken, introspect, seedKeypair, tokenRequest } from './helpers/oauth.ts';
import { hiddenFields, textOf, UiClient } from './helpers/ui.ts';
import { ADMIN_API_RESOURCE } from '../src/http/api/auth.ts';
import { cliEnv, runCli, type CliResult } from './helpers/cli.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

const tokenUrl = (kp: TestKeyport) => `${kp.url}/oauth/token`;

async function oauthError(response: Response): Promise<{ status: number; error: string; description: string }> {
  const body = await response.json() as { error: string; error_description: string };
  return { status: response.status, error: body.error, description: body.error_description };
}

test('discovery advertises the DPoP proof algorithms', async (t) => {
  const { kp } = t.context;
  const metadata = await (await fetch(`${kp.url}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
  t.deepEqual(metadata.dpop_signing_alg_values_supported, ['ES256', 'Ed25519', 'EdDSA']);
});

test('a token request with a DPoP proof gets a DPoP-bound token: token_type DPoP and cnf.jkt = the proof key thumbprint', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  for (const alg of ['ES256', 'EdDSA'] as const) {
    const key = await dpopKey(alg);
    const response = await dpopTokenRequest(kp.url, seed, await dpopProof(key, 'POST', tokenUrl(kp)));
    t.is(response.status, 200, alg);
    const body = await response.json() as { access_token: string; token_type: string };
    t.is(body.token_type, 'DPoP', alg);
    const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(`${kp.url}/oauth/jwks`)), { issuer: kp.url, typ: 'at+jwt' });
    t.deepEqual(payload.cnf, { jkt: key.thumbprint }, alg);
    // Introspection says so too (RFC 9449 §6.2).
    const answer = await introspect(kp.url, seed, body.access_token);
    t.is(answer.active, true);
    t.is(answer.token_type, 'DPoP');
    t.deepEqual(answer.cnf, { jkt: key.thumbprint });
  }
  // Without a proof, nothing changes: a Bearer token without cnf.
  const plain = await tokenRequest(kp.url, seed);
  const body = await plain.json() as { access_token: string; token_type: string };
  t.is(body.token_type, 'Bearer');
  t.false('cnf' in decodeJwt(body.access_token));
});

test('a proof for another URL or another method is refused with invalid_dpop_proof', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const key = await dpopKey();
  const cases: [string, string][] = [
    ['POST', `${kp.url}/oauth/introspect`],
    ['POST', 'https://elsewhere.example/oauth/token'],
    ['GET', tokenUrl(kp)],
  ];
  for (const [htm, htu] of cases) {
    const refused = await oauthError(await dpopTokenRequest(kp.url, seed, await dpopProof(key, htm, htu)));
    t.is(refused.status, 400, `${htm} ${htu}`);
    t.is(refused.error, 'invalid_dpop_proof', `${htm} ${htu}`);
    t.regex(refused.description, htm === 'GET' ? /htm/ : /htu/);
  }
});

test('malformed proofs are refused: a stale iat, an HMAC alg, a private key in the header, no jti', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const key = await dpopKey();
  const stale = await dpopProof(key, 'POST', tokenUrl(kp), { claims: { iat: Math.floor(Date.now() / 1000) - 3600 } });
  const { exportJWK, SignJWT } = await import('jose');
  const privateJwk = await exportJWK(key.privateKey);
  const withPrivate = await new SignJWT({ htm: 'POST', htu: tokenUrl(kp), jti: 'x1', iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: privateJwk }).sign(key.privateKey);
  const hmac = await new SignJWT({ htm: 'POST', htu: tokenUrl(kp), jti: 'x2', iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0' } as unknown as JWK }).sign(new TextEncoder().encode('secretsecretsecretsecretsecret!!'));
  const noJti = await dpopProof(key, 'POST', tokenUrl(kp), { claims: { jti: undefined } });
  for (const [name, proof] of Object.entries({ stale, withPrivate, hmac, noJti, garbage: 'not-a-jwt' })) {
    const refused = await oauthError(await dpopTokenRequest(kp.url, seed, proof));
    t.is(refused.status, 400, name);
    t.is(refused.error, 'invalid_dpop_proof', name);
  }
});

test('a replayed proof is refused, also after a restart (the record is in the database, not in one process)', async (t) => {
  const kp = await startTestKeyport();
  t.teardown(() => kp.close());
  const seed = await seedKeypair(kp.keyport);
  const key = await dpopKey();
  const proof = await dpopProof(key, 'POST', tokenUrl(kp));
  t.is((await dpopTokenRequest(kp.url, seed, proof)).status, 200);
  const again = await oauthError(await dpopTokenRequest(kp.url, seed, proof));
  t.is(again.status, 400);
  t.is(again.error, 'invalid_dpop_proof');
  t.regex(again.description, /replay/i);
  await kp.restart();
  const afterRestart = await oauthError(await dpopTokenRequest(kp.url, seed, proof));
  t.is(afterRestart.status, 400);
  t.is(afterRestart.error, 'invalid_dpop_proof');
  // A fresh proof of the same key works.
  t.is((await dpopTokenRequest(kp.url, seed, await dpopProof(key, 'POST', tokenUrl(kp)))).status, 200);
  // The same new proof sent five times at once: the record is one atomic claim, so exactly one gets a token.
  const raced = await dpopProof(key, 'POST', tokenUrl(kp));
  const statuses = await Promise.all(Array.from({ length: 5 }, () => dpopTokenRequest(kp.url, seed, raced).then((r) => r.status)));
  t.deepEqual(statuses.sort(), [200, 400, 400, 400, 400]);
});

test('a proof dated ahead stays single-use as long as it could be accepted: its replay record (dpop:) lasts until two iat windows from now', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const key = await dpopKey();
  const now = Math.floor(Date.now() / 1000);
  const jti = `ahead-${now}`;
  // Dated 200 s ahead: within the ±300 s window until 500 s from now.
  const proof = await dpopProof(key, 'POST', tokenUrl(kp), { claims: { jti, iat: now + 200 } });
  t.is((await dpopTokenRequest(kp.url, seed, proof)).status, 200);
  const id = `dpop:${createHash('sha256').update(`${seed.keyId}\n${jti}`).digest('base64url')}`;
  const record = await kp.keyport.database.connection.db!.collection('replays').findOne({ _id: id as never });
  t.truthy(record, 'recorded as a DPoP proof of this keypair');
  t.true((record!.expiresAt as Date).getTime() >= (now + 500) * 1000, `kept until ${(record!.expiresAt as Date).toISOString()}`);
});

test('dpopRequired: a token request without a proof is refused with invalid_dpop_proof; with one it gets a bound token', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  await kp.keyport.domain.keypairs.update(seed.keyId, { dpopRequired: true }, 'system');
  const refused = await oauthError(await tokenRequest(kp.url, seed));
  t.is(refused.status, 400);
  t.is(refused.error, 'invalid_dpop_proof');
  t.regex(refused.description, /requires DPoP/);
  // client_secret_post too: the requirement is the keypair's, whatever the authentication.
  t.is((await oauthError(await tokenRequest(kp.url, { ...seed, method: 'post' }))).error, 'invalid_dpop_proof');
  const key = await dpopKey();
  const bound = await dpopTokenRequest(kp.url, seed, await dpopProof(key, 'POST', tokenUrl(kp)));
  t.is(bound.status, 200);
  t.is((await bound.json() as { token_type: string }).token_type, 'DPoP');
  // A wrong secret is still invalid_client, not a DPoP hint to whoever guesses.
  const wrong = `${seed.secret.slice(0, -1)}${seed.secret.endsWith('x') ? 'y' : 'x'}`;
  t.deepEqual(await oauthError(await tokenRequest(kp.url, { ...seed, secret: wrong })), { status: 401, error: 'invalid_client', description: 'client authentication failed' });
  // Turned off again: Bearer tokens without a proof.
  await kp.keyport.domain.keypairs.update(seed.keyId, { dpopRequired: false }, 'system');
  t.is((await tokenRequest(kp.url, seed)).status, 200);
});

test('admin API: dpopRequired on create and update, validated, shown, and audited', async (t) => {
  const { kp } = t.context;
  const account = await kp.keyport.domain.owners.createAccount({ name: 'DPoP Co' }, 'system');
  await createUser(kp.keyport, 'dpop-admin@example.com', [[{ type: 'account', accountId: account.id, environmentId: null }, 'admin']]);
  const admin = await ApiClient.signIn(kp.url, 'dpop-admin@example.com');
  const created = await admin.post(`/accounts/${account.id}/keypairs`, { name: 'edge', scopes: ['reports:read'], dpopRequired: true });
  t.is(created.status, 201);
  t.is(created.body.keypair.dpopRequired, true);
  const keyId = created.body.keypair.keyId as string;
  t.is((await oauthError(await tokenRequest(kp.url, { keyId, secret: created.body.secret }))).error, 'invalid_dpop_proof');
  const bad = await admin.patch(`/keypairs/${keyId}`, { dpopRequired: 'yes' });
  t.is(bad.status, 400);
  t.is((await admin.get(`/keypairs/${keyId}`)).body.dpopRequired, true, 'a refused change changes nothing');
  const off = await admin.patch(`/keypairs/${keyId}`, { dpopRequired: false });
  t.is(off.status, 200);
  t.is(off.body.dpopRequired, false);
  t.is((await tokenRequest(kp.url, { keyId, secret: created.body.secret })).status, 200);
  const plain = await admin.post(`/accounts/${account.id}/keypairs`, { name: 'plain' });
  t.is(plain.body.keypair.dpopRequired, false);
  const audit = await admin.get(`/accounts/${account.id}/audit`);
  const events = (audit.body.items as { action: string; keypairId: string; details: Record<string, unknown> }[]).filter((e) => e.keypairId === keyId);
  t.true(events.some((e) => e.action === 'keypair.created' && e.details.dpopRequired === true));
  t.true(events.some((e) => e.action === 'keypair.updated' && e.details.dpopRequired === false));
});

test('the admin API refuses a DPoP-bound token presented as a Bearer token', async (t) => {
  const { kp } = t.context;
  const account = await kp.keyport.domain.owners.createAccount({ name: 'Bound' }, 'system');
  const manager = await kp.keyport.domain.keypairs.create({ accountId: account.id }, { name: 'terraform', scopes: ['keyport:read'] }, 'system');
  const seed = { keyId: manager.keypair.keyId, secret: manager.secret };
  const plain = await getToken(kp.url, { ...seed, resource: ADMIN_API_RESOURCE });
  t.is((await ApiClient.withToken(kp.url, plain).get(`/accounts/${account.id}/keypairs`)).status, 200);
  const response = await dpopTokenRequest(kp.url, seed, await dpopProof(await dpopKey(), 'POST', tokenUrl(kp)), { resource: ADMIN_API_RESOURCE });
  const bound = (await response.json() as { access_token: string }).access_token;
  const refused = await ApiClient.withToken(kp.url, bound).get(`/accounts/${account.id}/keypairs`);
  t.is(refused.status, 401);
  t.regex(refused.body.error.message, /DPoP-bound/);
});

test('web UI: "Require DPoP" on the new keypair form and the edit form', async (t) => {
  const { kp } = t.context;
  const account = await kp.keyport.domain.owners.createAccount({ name: 'UI DPoP' }, 'system');
  await createUser(kp.keyport, 'dpop-ui@example.com', [[{ type: 'account', accountId: account.id, environmentId: null }, 'admin']]);
  const ui = await UiClient.signIn(kp.url, 'dpop-ui@example.com');
  const form = await ui.get(`/ui/accounts/${account.id}/keypairs/new`);
  t.regex(form.html, /name="dpopRequired"/);
  const created = await ui.post(`/ui/accounts/${account.id}/keypairs`, { ...hiddenFields(form.html, `/ui/accounts/${account.id}/keypairs`), name: 'edge ui', scopes: ['reports:read'], dpopRequired: 'yes' });
  t.is(created.status, 200);
  const keyId = textOf(created.html, 'key-id')!;
  const secret = textOf(created.html, 'secret')!;
  t.is((await oauthError(await tokenRequest(kp.url, { keyId, secret }))).error, 'invalid_dpop_proof');
  const page = await ui.get(`/ui/keypairs/${keyId}`);
  t.regex(page.html, /<dt>DPoP<\/dt><dd>required/);
  t.regex(page.html, /name="dpopRequired" value="yes" checked/);
  // The edit form without the box ticked turns the requirement off.
  const edited = await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/edit`, { name: 'edge ui', comment: '', scopes: ['reports:read'] });
  t.is(edited.status, 303);
  t.is((await kp.keyport.domain.keypairs.get(keyId)).dpopRequired, false);
  t.is((await tokenRequest(kp.url, { keyId, secret })).status, 200);
});

function cli(kp: TestKeyport, args: string[]): Promise<CliResult> {
  return runCli(cliEnv(kp.config), args);
}

test('CLI: keypair create --dpop-required, show, edit --no-dpop-required', async (t) => {
  const { kp } = t.context;
  const account = await kp.keyport.domain.owners.createAccount({ name: 'CLI DPoP' }, 'system');
  const created = await cli(kp, ['--json', 'keypair', 'create', '--account', account.id, '--name', 'edge', '--scope', 'reports:read', '--dpop-required']);
  t.is(created.code, 0, created.stderr);
  const issued = JSON.parse(created.stdout) as { keyId: string; secret: string; keypair: { dpopRequired: boolean } };
  t.true(issued.keypair.dpopRequired);
  await kp.keyport.domain.changes.poll();
  t.is((await oauthError(await tokenRequest(kp.url, issued))).error, 'invalid_dpop_proof');
  const shown = await cli(kp, ['keypair', 'show', issued.keyId]);
  t.regex(shown.stdout, /DPoP\s+required/);
  const edited = await cli(kp, ['--json', 'keypair', 'edit', issued.keyId, '--no-dpop-required']);
  t.is(edited.code, 0, edited.stderr);
  t.false((JSON.parse(edited.stdout) as { dpopRequired: boolean }).dpopRequired);
  await kp.keyport.domain.changes.poll();
  t.is((await tokenRequest(kp.url, issued)).status, 200);
});
