// Federated workload identity (secretless) against a real Keyport over HTTP on
// the embedded database, with a local OIDC issuer standing in for GitHub
// Actions or Kubernetes (test/helpers/oidc-issuer.ts): trust rules through the
// admin API (and the issuers it refuses), the exchange of a workload's token at
// the token endpoint, and every rejection: subject, audience, claim condition,
// untrusted issuer, expiry, replay, token age without jti, an issuer whose keys
// are down, a key the issuer does not publish, alg none and HS256; lockout counting.
import { createSecretKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import test from 'ava';
import { decodeJwt, exportJWK, SignJWT } from 'jose';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { cliEnv, cliJson, runCli } from './helpers/cli.ts';
import { basic } from './helpers/oauth.ts';
import { LocalOidcIssuer } from './helpers/oidc-issuer.ts';
import { UiClient } from './helpers/ui.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const SUBJECT = 'repo:acme/api:ref:refs/heads/main';

let tk: TestKeyport;
let issuer: LocalOidcIssuer;
/** On the allow-list, but its discovery and JWKS answer 503. */
let down: LocalOidcIssuer;
/** A working issuer that is not on the allow-list. */
let rogue: LocalOidcIssuer;
let tenant: Awaited<ReturnType<typeof createTenant>>;
let admin: ApiClient;

test.before(async () => {
  [issuer, down, rogue] = await Promise.all([LocalOidcIssuer.start(), LocalOidcIssuer.start(), LocalOidcIssuer.start()]);
  down.up = false;
  tk = await startTestKeyport({
    overrides: {
      federation: { issuers: [issuer.url, down.url], allowLoopback: true },
      // Many refused requests come from one address here: the per-address budget must not be what refuses them.
      lockout: { mode: 'temporary', maxFailures: 5, durationSeconds: 900, maxTemporaryLocks: 5, maxFailuresPerAddress: 10_000 },
    },
  });
  tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  admin = await ApiClient.signIn(tk.url, 'admin@acme.test');
});
test.after.always(async () => {
  await tk?.close();
  await Promise.all([issuer?.close(), down?.close(), rogue?.close()]);
});

async function keypair(name: string, options: { secret?: boolean; publicKeys?: unknown[] } = {}): Promise<{ keyId: string; secret: string | null }> {
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name, scopes: ['orders:read', 'orders:write'], ...options });
  if (created.status !== 201) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
  return { keyId: created.body.keypair.keyId, secret: created.body.secret };
}

async function trust(keyId: string, rule: Record<string, unknown> = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return admin.post(`/keypairs/${keyId}/trust-rules`, { issuer: issuer.url, subject: SUBJECT, audience: 'keyport', ...rule });
}

/** A keypair without a secret that trusts `rule` (defaults: the local issuer, SUBJECT, audience "keyport"). */
async function trustingKeypair(name: string, rule: Record<string, unknown> = {}): Promise<string> {
  const { keyId } = await keypair(name);
  const added = await trust(keyId, rule);
  if (added.status !== 201) throw new Error(`trust failed: ${added.status} ${JSON.stringify(added.body)}`);
  return keyId;
}

async function exchange(keyId: string, token: string, extra: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${tk.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: keyId, client_assertion_type: ASSERTION_TYPE, client_assertion: token, ...extra }),
  });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

const refused = { error: 'invalid_client', error_description: 'client authentication failed' };

async function failedAttempts(keyId: string): Promise<number> {
  return (await admin.get(`/keypairs/${keyId}`)).body.failedAttempts;
}

test('a workload token that matches a trust rule gets a normal Keyport token with the keypair\'s scopes; the rule shows its last use', async (t) => {
  const { keyId, secret } = await keypair('ci deploy');
  const added = await trust(keyId, { claims: [{ name: 'repository', value: 'acme/api' }] });
  t.is(added.status, 201, JSON.stringify(added.body));
  t.like(added.body, { issuer: issuer.url, subject: SUBJECT, subjectMatch: 'exact', audience: 'keyport', claims: [{ name: 'repository', value: 'acme/api' }], lastUsedAt: null });
  t.regex(added.body.id, /^tr_[0-9A-Za-z]{16}$/);

  const answer = await exchange(keyId, await issuer.mint({ claims: { repository: 'acme/api' } }));
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(answer.body.token_type, 'Bearer');
  t.is(answer.body.scope, 'orders:read orders:write');
  const claims = decodeJwt(answer.body.access_token as string);
  t.is(claims.client_id, keyId);
  t.is(claims.iss, tk.url);

  // The requested scope subset rules are those of secrets.
  t.is((await exchange(keyId, await issuer.mint({ claims: { repository: 'acme/api' } }), { scope: 'orders:read' })).body.scope, 'orders:read');
  const tooMuch = await exchange(keyId, await issuer.mint({ claims: { repository: 'acme/api' } }), { scope: 'reports:read' });
  t.is(tooMuch.status, 400);
  t.is(tooMuch.body.error, 'invalid_scope');

  // The keypair's secret works as before.
  const bySecret = await fetch(`${tk.url}/oauth/token`, { method: 'POST', headers: { authorization: basic(keyId, secret!), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
  t.is(bySecret.status, 200);

  // Last use per rule is written after the answer: wait for it.
  let rule: { lastUsedAt: string | null } | undefined;
  for (let i = 0; i < 50 && !rule?.lastUsedAt; i++) {
    if (i) await new Promise((resolve) => setTimeout(resolve, 100));
    rule = (await admin.get(`/keypairs/${keyId}/trust-rules`)).body.rules[0];
  }
  t.truthy(rule?.lastUsedAt);
  const listed = await admin.get(`/keypairs/${keyId}/trust-rules`);
  t.deepEqual(listed.body.issuers, [issuer.url, down.url]);
  t.is((await admin.get(`/keypairs/${keyId}`)).body.trustRules.length, 1);
  const audit = await admin.get(`/keypairs/${keyId}/audit`);
  t.true(audit.body.items.some((e: { action: string; details: { ruleId?: string } }) => e.action === 'keypair.trust_added' && e.details.ruleId === added.body.id));
});

test('a token whose subject does not match is refused; a trailing-* rule matches by prefix only', async (t) => {
  const keyId = await trustingKeypair('subject');
  t.like(await exchange(keyId, await issuer.mint({ sub: 'repo:acme/api:ref:refs/heads/evil' })), { status: 401, body: refused });
  const prefixed = await trustingKeypair('prefix', { subject: 'repo:acme/api:*' });
  t.is((await exchange(prefixed, await issuer.mint({ sub: 'repo:acme/api:ref:refs/heads/feature' }))).status, 200);
  t.like(await exchange(prefixed, await issuer.mint({ sub: 'repo:acme/api-evil:ref:refs/heads/main' })), { status: 401, body: refused });
});

test('a token for another audience is refused', async (t) => {
  const keyId = await trustingKeypair('audience');
  t.like(await exchange(keyId, await issuer.mint({ aud: 'https://github.com/acme' })), { status: 401, body: refused });
  // aud as a list holding the rule's audience is fine.
  t.is((await exchange(keyId, await issuer.mint({ aud: ['other', 'keyport'] }))).status, 200);
});

test('a token whose claim condition differs is refused (strings compared exactly, nested claims by path)', async (t) => {
  const keyId = await trustingKeypair('claims', { subject: 'system:serviceaccount:prod:deployer', claims: [{ name: 'kubernetes.io/namespace', value: 'prod' }, { name: 'ref', value: 'refs/heads/main' }] });
  const sub = 'system:serviceaccount:prod:deployer';
  t.is((await exchange(keyId, await issuer.mint({ sub, claims: { 'kubernetes.io': { namespace: 'prod' }, ref: 'refs/heads/main' } }))).status, 200);
  t.like(await exchange(keyId, await issuer.mint({ sub, claims: { 'kubernetes.io': { namespace: 'staging' }, ref: 'refs/heads/main' } })), { status: 401, body: refused });
  t.like(await exchange(keyId, await issuer.mint({ sub, claims: { 'kubernetes.io': { namespace: 'prod' } } })), { status: 401, body: refused });
});

test('a token of an issuer not on the allow-list is refused, and the admin API refuses a rule for it (400)', async (t) => {
  const keyId = await trustingKeypair('untrusted');
  t.like(await exchange(keyId, await rogue.mint()), { status: 401, body: refused });
  const rule = await trust(keyId, { issuer: rogue.url });
  t.is(rule.status, 400);
  t.is(rule.body.error.code, 'validation_failed');
  t.regex(rule.body.error.message, /not on this instance's list of trusted issuers/);
  t.is((await admin.get(`/keypairs/${keyId}/trust-rules`)).body.rules.length, 1, 'nothing was added');
  t.is(rogue.jwksFetches, 0, 'an untrusted issuer is never contacted');
});

test('an expired token is refused', async (t) => {
  const keyId = await trustingKeypair('expired');
  t.like(await exchange(keyId, await issuer.mint({ expiresIn: -120 })), { status: 401, body: refused });
});

test('a token is single use by its jti', async (t) => {
  const keyId = await trustingKeypair('replay');
  const token = await issuer.mint();
  t.is((await exchange(keyId, token)).status, 200);
  t.like(await exchange(keyId, token), { status: 401, body: refused });
});

test('without jti, a token must have been issued within the documented maximum age (10 minutes)', async (t) => {
  const keyId = await trustingKeypair('no-jti');
  const now = Math.floor(Date.now() / 1000);
  t.is((await exchange(keyId, await issuer.mint({ claims: { jti: null } }))).status, 200);
  t.like(await exchange(keyId, await issuer.mint({ claims: { jti: null, iat: now - 11 * 60 }, expiresIn: 600 })), { status: 401, body: refused });
  t.like(await exchange(keyId, await issuer.mint({ claims: { jti: null, iat: null } })), { status: 401, body: refused });
});

test('an issuer whose discovery and JWKS are down: invalid_client saying so, not counted toward the lockout', async (t) => {
  const keyId = await trustingKeypair('down', { issuer: down.url });
  const answer = await exchange(keyId, await down.mint());
  t.is(answer.status, 401);
  t.is(answer.body.error, 'invalid_client');
  t.regex(answer.body.error_description as string, /issuer's signing keys could not be fetched/);
  t.is(await failedAttempts(keyId), 0);
});

test('a token signed by a key the issuer does not publish is refused (same kid too)', async (t) => {
  const keyId = await trustingKeypair('stranger key');
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  t.like(await exchange(keyId, await issuer.mint({ key: stranger })), { status: 401, body: refused });
  t.like(await exchange(keyId, await issuer.mint({ key: stranger, header: { kid: 'another-kid' } })), { status: 401, body: refused });
});

test('alg none and HS256 are refused', async (t) => {
  const keyId = await trustingKeypair('alg');
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: issuer.url, sub: SUBJECT, aud: 'keyport', iat: now, exp: now + 300, jti: randomUUID() };
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  t.like(await exchange(keyId, unsigned), { status: 401, body: refused });
  // HMAC keyed with the issuer's public key (the classic confusion), and with anything else.
  const publicJwk = await exportJWK(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  const hs = await new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256', kid: issuer.kid }).sign(createSecretKey(Buffer.from(JSON.stringify(publicJwk))));
  t.like(await exchange(keyId, hs), { status: 401, body: refused });
});

test('failed federated tokens count toward the keypair\'s lockout; a locked keypair refuses a valid token', async (t) => {
  const keyId = await trustingKeypair('lockout');
  for (let i = 0; i < 4; i++) t.is((await exchange(keyId, await issuer.mint({ sub: 'repo:someone/else:ref:refs/heads/main' }))).status, 401);
  t.is(await failedAttempts(keyId), 4);
  // A success resets the count.
  t.is((await exchange(keyId, await issuer.mint())).status, 200);
  t.is(await failedAttempts(keyId), 0);
  for (let i = 0; i < 5; i++) t.is((await exchange(keyId, await issuer.mint({ aud: 'wrong' }))).status, 401);
  t.is((await admin.get(`/keypairs/${keyId}`)).body.locked, true);
  t.like(await exchange(keyId, await issuer.mint()), { status: 401, body: refused });
});

test('removing a rule stops its tokens at once (audited); an unknown rule is 404', async (t) => {
  const keyId = await trustingKeypair('remove');
  const [rule] = (await admin.get(`/keypairs/${keyId}/trust-rules`)).body.rules;
  t.is((await exchange(keyId, await issuer.mint())).status, 200);
  t.is((await admin.delete(`/keypairs/${keyId}/trust-rules/${rule.id}`)).status, 204);
  t.like(await exchange(keyId, await issuer.mint()), { status: 401, body: refused });
  t.is((await admin.delete(`/keypairs/${keyId}/trust-rules/${rule.id}`)).status, 404);
  t.is((await admin.delete(`/keypairs/${keyId}/trust-rules/nonsense`)).status, 404);
  const audit = await admin.get(`/keypairs/${keyId}/audit`);
  t.true(audit.body.items.some((e: { action: string; details: { ruleId?: string } }) => e.action === 'keypair.trust_removed' && e.details.ruleId === rule.id));
});

test('the admin API checks rules: a bare "*", a "*" inside the subject, reserved claims, duplicates, more than 10', async (t) => {
  const { keyId } = await keypair('limits');
  for (const [rule, message] of [
    [{ subject: '*' }, /would trust every workload/],
    [{ subject: 'repo:*:ref:refs/heads/main' }, /only once, as its last character/],
    [{ claims: [{ name: 'sub', value: 'x' }] }, /cannot be a condition/],
    [{ claims: [{ name: 'bad name', value: 'x' }] }, /is not valid/],
    [{ claims: [{ name: 'ref', value: 'a' }, { name: 'ref', value: 'b' }] }, /one condition/],
    [{ audience: '' }, /audience/],
  ] as const) {
    const answer = await trust(keyId, rule);
    t.is(answer.status, 400, JSON.stringify(rule));
    t.regex(JSON.stringify(answer.body.error), message);
  }
  t.is((await trust(keyId)).status, 201);
  t.is((await trust(keyId)).status, 409, 'the same rule twice');
  for (let i = 1; i < 10; i++) t.is((await trust(keyId, { subject: `repo:acme/api${i}:*` })).status, 201);
  const eleventh = await trust(keyId, { subject: 'repo:acme/eleven:*' });
  t.is(eleventh.status, 409);
  t.regex(eleventh.body.error.message, /at most 10 trust rules/);
});

test('private_key_jwt still works beside federation (its iss is the key id)', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { keyId } = await keypair('both', { secret: false, publicKeys: [await exportJWK(publicKey)] });
  t.is((await trust(keyId)).status, 201);
  const now = Math.floor(Date.now() / 1000);
  const own = await new SignJWT({ iss: keyId, sub: keyId, aud: `${tk.url}/oauth/token`, jti: randomUUID(), iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
  const answer = await fetch(`${tk.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: own }),
  });
  t.is(answer.status, 200);
  t.is((await exchange(keyId, await issuer.mint())).status, 200);
});

test('the CLI adds, lists and removes trust rules (issuers from the same configuration as the server\'s)', async (t) => {
  const { keyId } = await keypair('cli');
  const env = cliEnv(tk.config, { KEYPORT_FEDERATION_ISSUERS: `${issuer.url},${down.url}` });
  const added = await cliJson<{ id: string; claims: { name: string; value: string }[] }>(env, [
    'keypair', 'trust', 'add', keyId, '--issuer', issuer.url, '--subject', 'repo:acme/api:*', '--audience', 'keyport', '--claim', 'repository=acme/api', '--claim', 'kubernetes.io/namespace=prod',
  ]);
  t.deepEqual(added.claims, [{ name: 'kubernetes.io/namespace', value: 'prod' }, { name: 'repository', value: 'acme/api' }]);
  await tk.keyport.domain.changes.poll(); // the server hears of the CLI's change as its change feed would tell it
  t.is((await exchange(keyId, await issuer.mint({ claims: { repository: 'acme/api', 'kubernetes.io': { namespace: 'prod' } } }))).status, 200);

  const listed = await runCli(env, ['keypair', 'trust', 'list', keyId]);
  t.is(listed.code, 0, listed.stderr);
  t.true(listed.stdout.includes(added.id) && listed.stdout.includes('repository=acme/api'));
  const shown = await runCli(env, ['keypair', 'show', keyId]);
  t.regex(shown.stdout, new RegExp(`trust rule\\s+${added.id}: ${issuer.url.replace(/[.]/g, '\\.')} sub repo:acme/api:\\*`));

  const refusedIssuer = await runCli(env, ['keypair', 'trust', 'add', keyId, '--issuer', rogue.url, '--subject', 'x', '--audience', 'keyport']);
  t.not(refusedIssuer.code, 0);
  t.regex(refusedIssuer.stderr, /not on this instance's list of trusted issuers/);
  const badClaim = await runCli(env, ['keypair', 'trust', 'add', keyId, '--issuer', issuer.url, '--subject', 'x', '--audience', 'keyport', '--claim', 'novalue']);
  t.not(badClaim.code, 0);
  t.regex(badClaim.stderr, /--claim must be name=value/);

  const removed = await runCli(env, ['keypair', 'trust', 'remove', keyId, added.id]);
  t.is(removed.code, 0, removed.stderr);
  await tk.keyport.domain.changes.poll();
  t.like(await exchange(keyId, await issuer.mint({ claims: { repository: 'acme/api', 'kubernetes.io': { namespace: 'prod' } } })), { status: 401, body: refused });
  const audit = await admin.get(`/keypairs/${keyId}/audit`);
  t.true(audit.body.items.some((e: { action: string; actor: string }) => e.action === 'keypair.trust_removed' && e.actor === 'cli'));
});

test('the web UI lists, adds and removes trust rules; a refused rule renders a 400 page and changes nothing', async (t) => {
  const { keyId } = await keypair('ui');
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const page = await ui.get(`/ui/keypairs/${keyId}`);
  t.is(page.status, 200);
  t.regex(page.html, /id="trust-rules"/);
  t.regex(page.html, /No trust rules/);
  t.true(page.html.includes(`<option value="${issuer.url}">`), 'the allow-list is the choice of issuers');

  const added = await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/trust-rules`, { issuer: issuer.url, subject: 'repo:acme/api:*', audience: 'keyport', claims: 'repository=acme/api\r\nkubernetes.io/namespace=prod\r\n' });
  t.is(added.status, 303);
  const [rule] = (await admin.get(`/keypairs/${keyId}/trust-rules`)).body.rules;
  t.deepEqual(rule.claims, [{ name: 'kubernetes.io/namespace', value: 'prod' }, { name: 'repository', value: 'acme/api' }]);
  const shown = await ui.get(`/ui/keypairs/${keyId}`);
  t.true(shown.html.includes('<code>repository=acme/api</code>'));
  t.true(shown.html.includes(`/ui/keypairs/${keyId}/trust-rules/${rule.id}/remove`));

  const rogueRule = await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/trust-rules`, { issuer: rogue.url, subject: 'x', audience: 'keyport' });
  t.is(rogueRule.status, 400);
  t.regex(rogueRule.html, /not on this instance(&#39;|')s list of trusted issuers/);
  const badClaims = await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/trust-rules`, { issuer: issuer.url, subject: 'y', audience: 'keyport', claims: 'no equals sign' });
  t.is(badClaims.status, 400);
  t.regex(badClaims.html, /name=value/);
  t.is((await admin.get(`/keypairs/${keyId}/trust-rules`)).body.rules.length, 1);

  const removed = await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/trust-rules/${rule.id}/remove`);
  t.is(removed.status, 303);
  t.is((await admin.get(`/keypairs/${keyId}/trust-rules`)).body.rules.length, 0);
});

test('a keypair created with trust rules and without a secret or key: secretless from the start; its last rule stays until another way in exists', async (t) => {
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, {
    name: 'secretless', scopes: ['orders:read'], secret: false, trustRules: [{ issuer: issuer.url, subject: SUBJECT, audience: 'keyport' }],
  });
  t.is(created.status, 201, JSON.stringify(created.body));
  t.is(created.body.secret, null);
  t.deepEqual(created.body.keypair.secrets, []);
  t.is(created.body.keypair.trustRules.length, 1);
  const keyId = created.body.keypair.keyId;
  t.is((await exchange(keyId, await issuer.mint())).status, 200);
  const last = await admin.delete(`/keypairs/${keyId}/trust-rules/${created.body.keypair.trustRules[0].id}`);
  t.is(last.status, 409);
  t.regex(last.body.error.message, /last trust rule of a keypair without a secret or key/);

  const nothing = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'nothing', secret: false });
  t.is(nothing.status, 400);
  t.regex(nothing.body.error.message, /needs at least one public key or trust rule/);
  const untrusted = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'rogue', secret: false, trustRules: [{ issuer: rogue.url, subject: SUBJECT, audience: 'keyport' }] });
  t.is(untrusted.status, 400);
  t.regex(untrusted.body.error.message, /not on this instance's list of trusted issuers/);
  const list = await admin.get(`/environments/${tenant.productionId}/keypairs?q=rogue`);
  t.is(list.body.items.length, 0, 'nothing was created');
});

test('the CLI creates a keypair without a secret from --trust-rule; bad JSON and bad rules exit non-zero', async (t) => {
  const env = cliEnv(tk.config, { KEYPORT_FEDERATION_ISSUERS: issuer.url });
  const rule = JSON.stringify({ issuer: issuer.url, subject: SUBJECT, audience: 'keyport', claims: [{ name: 'repository', value: 'acme/api' }] });
  const created = await cliJson<{ keyId: string; secret: null; keypair: { trustRules: { id: string }[] } }>(env, ['keypair', 'create', '--environment', tenant.productionId, '--name', 'cli secretless', '--scope', 'orders:read', '--no-secret', '--trust-rule', rule]);
  t.is(created.secret, null);
  t.is(created.keypair.trustRules.length, 1);
  await tk.keyport.domain.changes.poll();
  t.is((await exchange(created.keyId, await issuer.mint({ claims: { repository: 'acme/api' } }))).status, 200);
  const badJson = await runCli(env, ['keypair', 'create', '--environment', tenant.productionId, '--name', 'x', '--no-secret', '--trust-rule', '{nope']);
  t.not(badJson.code, 0);
  t.regex(badJson.stderr, /--trust-rule must be JSON/);
  const badClaims = await runCli(env, ['keypair', 'create', '--environment', tenant.productionId, '--name', 'x', '--no-secret', '--trust-rule', JSON.stringify({ issuer: issuer.url, subject: SUBJECT, audience: 'keyport', claims: [null] })]);
  t.not(badClaims.code, 0);
  t.regex(badClaims.stderr, /each claim condition is/);
});
