// Tokens of a leaked secret: regenerating revokes the tokens already issued to
// the keypair (unless asked to keep them), disabling revokes them for good, and
// a planned rotation keeps them. Driven through the admin API over HTTP;
// checked through introspection and the admin API's own bearer tokens.
import anyTest, { type TestFn } from 'ava';
import { accountOwner, ApiClient, createUser } from '../helpers/api.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { getToken, introspect, seedKeypair } from '../helpers/oauth.ts';

interface Context {
  kp: TestKeyport;
  admin: ApiClient;
  accountId: string;
  environmentId: string;
  introspector: { keyId: string; secret: string };
}

const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  const kp = await startTestKeyport();
  const seed = await seedKeypair(kp.keyport);
  await createUser(kp.keyport, 'admin@acme.test', [[accountOwner(seed.accountId), 'admin']]);
  const introspector = await kp.keyport.domain.keypairs.create({ accountId: seed.accountId }, { name: 'gateway', scopes: ['keyport:introspect'] }, 'system');
  t.context = {
    kp,
    admin: await ApiClient.signIn(kp.url, 'admin@acme.test'),
    accountId: seed.accountId,
    environmentId: seed.environmentId,
    introspector: { keyId: introspector.keypair.keyId, secret: introspector.secret },
  };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

async function newKeypair(t: { context: Context }, scopes = ['orders:read']): Promise<{ keyId: string; secret: string }> {
  const res = await t.context.admin.post(`/environments/${t.context.environmentId}/keypairs`, { name: 'worker', scopes });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { keyId: res.body.keypair.keyId, secret: res.body.secret };
}

const isActive = async (t: { context: Context }, token: string) => (await introspect(t.context.kp.url, t.context.introspector, token)).active;

test('regenerate revokes the tokens issued before it, and only those (even within the same second)', async (t) => {
  const keypair = await newKeypair(t);
  const leaked = await getToken(t.context.kp.url, keypair);
  const alsoLeaked = await getToken(t.context.kp.url, keypair);
  t.true(await isActive(t, leaked));

  const res = await t.context.admin.post(`/keypairs/${keypair.keyId}/regenerate`, {});
  t.is(res.status, 200);
  t.truthy(res.body.keypair.tokensRevokedAt);
  // Issued right after the regeneration, most likely within the same second as the tokens above.
  const fresh = await getToken(t.context.kp.url, { keyId: keypair.keyId, secret: res.body.secret });

  t.false(await isActive(t, leaked));
  t.false(await isActive(t, alsoLeaked));
  t.true(await isActive(t, fresh));
});

test('regenerate with revokeTokens: false keeps the tokens already issued', async (t) => {
  const keypair = await newKeypair(t);
  const token = await getToken(t.context.kp.url, keypair);
  const res = await t.context.admin.post(`/keypairs/${keypair.keyId}/regenerate`, { revokeTokens: false });
  t.is(res.status, 200);
  t.is(res.body.keypair.tokensRevokedAt, null);
  t.true(await isActive(t, token));
  // The old secret itself stops at once either way.
  t.is((await fetch(`${t.context.kp.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${keypair.keyId}:${keypair.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  })).status, 401);
});

test('a planned rotation keeps the tokens already issued; with revokeTokens: true it ends them', async (t) => {
  const keypair = await newKeypair(t);
  const before = await getToken(t.context.kp.url, keypair);
  const planned = await t.context.admin.post(`/keypairs/${keypair.keyId}/rotate`, { grace: '24h' });
  t.is(planned.status, 200);
  t.true(await isActive(t, before));

  const urgent = await t.context.admin.post(`/keypairs/${keypair.keyId}/rotate`, { grace: '1h', revokeTokens: true });
  t.is(urgent.status, 200);
  t.false(await isActive(t, before));
});

test('disable revokes the tokens issued so far for good: enabling again does not bring them back', async (t) => {
  const keypair = await newKeypair(t);
  const token = await getToken(t.context.kp.url, keypair);
  t.is((await t.context.admin.post(`/keypairs/${keypair.keyId}/disable`, {})).status, 200);
  t.false(await isActive(t, token));

  const enabled = await t.context.admin.post(`/keypairs/${keypair.keyId}/enable`, {});
  t.is(enabled.status, 200);
  t.truthy(enabled.body.tokensRevokedAt);
  t.false(await isActive(t, token), 'a token from before the disable stays dead');
  const after = await getToken(t.context.kp.url, keypair);
  t.true(await isActive(t, after), 'the same secret gets new, valid tokens once enabled');
});

test('the admin API refuses a bearer token of a regenerated keypair, and accepts its new ones', async (t) => {
  const automation = await t.context.kp.keyport.domain.keypairs.create({ accountId: t.context.accountId }, { name: 'terraform', scopes: ['keyport:read'] }, 'system');
  const request = { keyId: automation.keypair.keyId, secret: automation.secret, scope: 'keyport:read', resource: 'urn:keyport:admin-api' };
  const old = ApiClient.withToken(t.context.kp.url, await getToken(t.context.kp.url, request));
  t.is((await old.get(`/accounts/${t.context.accountId}/keypairs`)).status, 200);

  const res = await t.context.admin.post(`/keypairs/${automation.keypair.keyId}/regenerate`, {});
  t.is(res.status, 200);
  t.is((await old.get(`/accounts/${t.context.accountId}/keypairs`)).status, 401);
  const renewed = ApiClient.withToken(t.context.kp.url, await getToken(t.context.kp.url, { ...request, secret: res.body.secret }));
  t.is((await renewed.get(`/accounts/${t.context.accountId}/keypairs`)).status, 200);
});

test('the audit trail says whether a regeneration or a disable revoked tokens', async (t) => {
  const keypair = await newKeypair(t);
  await t.context.admin.post(`/keypairs/${keypair.keyId}/regenerate`, { revokeTokens: false });
  await t.context.admin.post(`/keypairs/${keypair.keyId}/regenerate`, {});
  await t.context.admin.post(`/keypairs/${keypair.keyId}/disable`, {});
  const trail = await t.context.admin.get(`/keypairs/${keypair.keyId}/audit`);
  t.is(trail.status, 200);
  const events = (trail.body.items as { action: string; details: Record<string, unknown> }[]).map((e) => [e.action, e.details?.revokedTokens]);
  t.deepEqual(events.slice(0, 3), [['keypair.disabled', true], ['keypair.regenerated', true], ['keypair.regenerated', false]]);
});

test('regenerate refuses an unknown option and changes nothing', async (t) => {
  const keypair = await newKeypair(t);
  const token = await getToken(t.context.kp.url, keypair);
  const res = await t.context.admin.post(`/keypairs/${keypair.keyId}/regenerate`, { revokeTokens: 'yes' });
  t.is(res.status, 400);
  t.true(await isActive(t, token));
  t.truthy(await getToken(t.context.kp.url, keypair), 'the secret still works');
});
