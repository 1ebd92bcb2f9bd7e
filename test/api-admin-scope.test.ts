// keyport:admin, the scope for infrastructure as code (the Terraform provider):
// a token with it manages the account's environments, memberships and webhook
// endpoints as well as its keypairs, never the account itself; keyport:manage
// alone still cannot.
import test from 'ava';
import { ADMIN_API_RESOURCE } from '../src/http/api/auth.ts';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken } from './helpers/oauth.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

let tk: TestKeyport;
let hook: WebhookReceiver;

test.before(async () => {
  tk = await startTestKeyport({ overrides: { webhooks: { allowLoopback: true, pollMs: 50 } } });
  hook = await startWebhookReceiver();
});
test.after.always(async () => {
  await tk?.close();
  await hook?.close();
});

async function tokenClient(accountId: string, scopes: string[]): Promise<ApiClient> {
  const { keypair, secret } = await tk.keyport.domain.keypairs.create({ accountId }, { name: `tf ${scopes.join(' ')}`, scopes }, 'system');
  return ApiClient.withToken(tk.url, await getToken(tk.url, { keyId: keypair.keyId, secret, resource: ADMIN_API_RESOURCE, scope: scopes.join(' ') }));
}

test('a keyport:admin token creates, renames and closes environments and manages memberships of its own account', async (t) => {
  const tenant = await createTenant(tk.keyport, 'Infra');
  await createUser(tk.keyport, 'owner@infra.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'dev@infra.test');
  const api = await tokenClient(tenant.accountId, ['keyport:admin']);

  const created = await api.post(`/accounts/${tenant.accountId}/environments`, { name: 'qa' });
  t.is(created.status, 201, JSON.stringify(created.body));
  const envId = created.body.id as string;
  t.is((await api.patch(`/environments/${envId}`, { name: 'qa-2' })).body.name, 'qa-2');

  const added = await api.post(`/environments/${envId}/members`, { email: 'dev@infra.test', role: 'member' });
  t.is(added.status, 200, JSON.stringify(added.body));
  const members = await api.get(`/environments/${envId}/members`);
  t.true(members.body.items.some((m: { email: string; role: string }) => m.email === 'dev@infra.test' && m.role === 'member'));
  t.is((await api.delete(`/environments/${envId}/members/${added.body.userId}`)).status, 204);
  t.is((await api.post(`/accounts/${tenant.accountId}/members`, { email: 'dev@infra.test', role: 'admin' })).status, 200);

  // Keypairs too (everything keyport:manage does).
  const keypair = await api.post(`/environments/${envId}/keypairs`, { name: 'svc' });
  t.is(keypair.status, 201);

  const closed = await api.post(`/environments/${envId}/close`, {});
  t.is(closed.status, 200, JSON.stringify(closed.body));
  t.not(closed.body.status, 'active');

  // Never the account itself: its people close or rename it.
  t.is((await api.post(`/accounts/${tenant.accountId}/close`, {})).status, 403);
  t.is((await api.patch(`/accounts/${tenant.accountId}`, { name: 'Renamed' })).status, 403);
  // Nor another account: not found, as for anyone it does not reach.
  const other = await createTenant(tk.keyport, 'Other');
  t.is((await api.post(`/accounts/${other.accountId}/environments`, { name: 'x' })).status, 404);
});

test('keyport:manage alone still manages keypairs only: no environments, no memberships', async (t) => {
  const tenant = await createTenant(tk.keyport, 'Manage only');
  await createUser(tk.keyport, 'dev2@infra.test');
  const api = await tokenClient(tenant.accountId, ['keyport:manage']);
  t.is((await api.post(`/accounts/${tenant.accountId}/environments`, { name: 'qa' })).status, 403);
  t.is((await api.post(`/environments/${tenant.stagingId}/members`, { email: 'dev2@infra.test', role: 'admin' })).status, 403);
  t.is((await api.get(`/environments/${tenant.stagingId}/members`)).status, 403);
  t.is((await api.post(`/environments/${tenant.stagingId}/close`, {})).status, 403);
  t.is((await api.post(`/accounts/${tenant.accountId}/webhooks`, { url: hook.url })).status, 403);
  t.is((await api.get(`/accounts/${tenant.accountId}/webhooks`)).status, 403);
  t.is((await api.post(`/environments/${tenant.stagingId}/keypairs`, { name: 'ok' })).status, 201);
});

test('a keyport:admin token adds, reads, lists and removes the webhook endpoints of its own account (the Terraform provider\'s keyport_webhook)', async (t) => {
  const tenant = await createTenant(tk.keyport, 'Hooks');
  const api = await tokenClient(tenant.accountId, ['keyport:admin']);

  const created = await api.post(`/accounts/${tenant.accountId}/webhooks`, { url: hook.url, description: 'from Terraform' });
  t.is(created.status, 201, JSON.stringify(created.body));
  t.regex(created.body.secret, /^whsec_/);
  const id = created.body.webhook.id as string;
  t.is(created.body.webhook.description, 'from Terraform');
  t.is((await api.get(`/webhooks/${id}`)).body.url, hook.url);
  t.deepEqual((await api.get(`/accounts/${tenant.accountId}/webhooks`)).body.items.map((w: { id: string }) => w.id), [id]);
  t.is((await api.get(`/webhooks/${id}/deliveries`)).status, 200);
  // Keyport's own answer to an address it must not call (SSRF), for the provider to show.
  const refused = await api.post(`/accounts/${tenant.accountId}/webhooks`, { url: 'https://10.0.0.1/hook' });
  t.is(refused.status, 400);
  t.regex(refused.body.error.message, /not a public address/);

  t.is((await api.delete(`/webhooks/${id}`)).status, 204);
  t.is((await api.get(`/webhooks/${id}`)).status, 404);
  t.deepEqual(await tk.keyport.domain.webhooks.list(tenant.accountId), []);

  // Never another account's: not found.
  const other = await createTenant(tk.keyport, 'Other hooks');
  t.is((await api.get(`/accounts/${other.accountId}/webhooks`)).status, 404);
  t.is((await api.post(`/accounts/${other.accountId}/webhooks`, { url: hook.url })).status, 404);
});

test('keyport:admin is an account-level scope: an environment keypair cannot hold it', async (t) => {
  const tenant = await createTenant(tk.keyport, 'Levels');
  await t.throwsAsync(tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'env', scopes: ['keyport:admin'] }, 'system'));
});
