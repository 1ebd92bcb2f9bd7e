// The audit trail through the API: who did what to which target, paginated, never a secret.
import test from 'ava';
import { ADMIN_API_RESOURCE } from '../src/http/api/auth.ts';
import { accountOwner, ApiClient, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken } from './helpers/oauth.ts';

let tk: TestKeyport;

test.before(async () => {
  tk = await startTestKeyport();
});
test.after.always(async () => {
  await tk?.close();
});

test('every change is recorded with actor, time, target and details; never a secret', async (t) => {
  const tenant = await createTenant(tk.keyport);
  const adminId = await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'dev@acme.test');
  const admin = await ApiClient.signIn(tk.url, 'admin@acme.test');
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'ci', scopes: ['orders:read'] });
  const { keyId } = created.body.keypair;
  const secrets = [created.body.secret as string];
  await admin.patch(`/keypairs/${keyId}`, { comment: 'for CI' });
  await admin.post(`/keypairs/${keyId}/disable`);
  await admin.post(`/keypairs/${keyId}/enable`);
  secrets.push((await admin.post(`/keypairs/${keyId}/rotate`, { grace: '1h' })).body.secret);
  secrets.push((await admin.post(`/keypairs/${keyId}/regenerate`)).body.secret);
  await admin.post(`/keypairs/${keyId}/unlock`);
  await admin.patch(`/environments/${tenant.productionId}`, { name: 'prod' });
  await admin.post(`/environments/${tenant.productionId}/members`, { email: 'dev@acme.test', role: 'admin' });
  const devId = (await tk.keyport.domain.users.findByEmail('dev@acme.test'))!.id;
  await admin.delete(`/environments/${tenant.productionId}/members/${devId}`);

  // Automation: a token acts as keypair:<id>.
  const automation = await tk.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'tf', scopes: ['keyport:manage'] }, 'system');
  const api = ApiClient.withToken(tk.url, await getToken(tk.url, { keyId: automation.keypair.keyId, secret: automation.secret, resource: ADMIN_API_RESOURCE }));
  secrets.push(automation.secret);
  const byToken = await api.post(`/environments/${tenant.stagingId}/keypairs`, { name: 'by-token' });
  secrets.push(byToken.body.secret);
  await api.delete(`/keypairs/${byToken.body.keypair.keyId}`);

  const res = await admin.get(`/environments/${tenant.productionId}/audit?limit=200`);
  t.is(res.status, 200);
  const events = res.body.items as { at: string; actor: string; action: string; keypairId: string | null; environmentId: string; accountId: string; details: Record<string, unknown> }[];
  const actions = events.map((e) => e.action);
  for (const action of ['keypair.created', 'keypair.updated', 'keypair.disabled', 'keypair.enabled', 'keypair.rotated', 'keypair.regenerated', 'keypair.unlocked', 'environment.renamed', 'membership.granted', 'membership.revoked']) {
    t.true(actions.includes(action), action);
  }
  for (const e of events) {
    t.is(e.environmentId, tenant.productionId);
    t.is(e.accountId, tenant.accountId);
    t.false(Number.isNaN(Date.parse(e.at)));
  }
  const rotated = events.find((e) => e.action === 'keypair.rotated')!;
  t.like(rotated, { actor: `user:${adminId}`, keypairId: keyId, details: { grace: '1h' } });
  t.like(events.find((e) => e.action === 'keypair.updated')!, { details: { comment: 'for CI' } });
  t.like(events.find((e) => e.action === 'environment.renamed')!, { details: { from: 'production', to: 'prod' } });
  // Newest first.
  const times = events.map((e) => Date.parse(e.at));
  t.deepEqual(times, [...times].sort((a, b) => b - a));

  // The account's trail holds its environments' events too, and the token's actions.
  const account = await admin.get(`/accounts/${tenant.accountId}/audit?limit=200`);
  t.true(account.body.items.some((e: { action: string; actor: string }) => e.action === 'keypair.removed' && e.actor === `keypair:${automation.keypair.keyId}`));
  t.true(account.body.items.some((e: { environmentId: string }) => e.environmentId === tenant.stagingId));
  // Staging's trail does not hold production's events.
  const staging = await admin.get(`/environments/${tenant.stagingId}/audit?limit=200`);
  t.false(staging.body.items.some((e: { environmentId: string }) => e.environmentId === tenant.productionId));

  // Never a secret, a hash, or a password.
  const everything = JSON.stringify(await tk.keyport.database.models.AuditEvent.find({}).lean());
  for (const secret of secrets) t.false(everything.includes(secret));
  t.notRegex(everything, /kps_[0-9A-Za-z]|"hash"|passwordHash|scrypt\$/); // hints (kps_…AbC9) are no secret
});

test('pagination with a cursor: no event repeated or skipped, even within one millisecond', async (t) => {
  const tenant = await createTenant(tk.keyport, 'Paged');
  await createUser(tk.keyport, 'pager@acme.test', [[accountOwner(tenant.accountId), 'admin'], [environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  const admin = await ApiClient.signIn(tk.url, 'pager@acme.test');
  for (let i = 0; i < 7; i++) await admin.post(`/accounts/${tenant.accountId}/keypairs`, { name: `k${i}` });
  const all = (await admin.get(`/accounts/${tenant.accountId}/audit?limit=200`)).body.items.map((e: { id: string }) => e.id);
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await admin.get(`/accounts/${tenant.accountId}/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...res.body.items.map((e) => e.id));
    cursor = res.body.nextCursor;
    pages++;
  } while (cursor && pages < 20);
  t.deepEqual(seen, all);
  t.true(pages >= 4);
});

test('a removed keypair keeps its audit trail: its former owner\'s admins and tokens read it, others get the 404 of an unknown key', async (t) => {
  const tenant = await createTenant(tk.keyport, 'Removals');
  await createUser(tk.keyport, 'remover@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'prod-admin@acme.test', [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  await createUser(tk.keyport, 'staging-admin@acme.test', [[environmentOwner(tenant.accountId, tenant.stagingId), 'admin']]);
  const admin = await ApiClient.signIn(tk.url, 'remover@acme.test');
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'short-lived', scopes: ['orders:read'] });
  const { keyId } = created.body.keypair;
  await admin.post(`/keypairs/${keyId}/disable`);
  const before = await admin.get(`/keypairs/${keyId}/audit`);
  t.is(before.status, 200);
  t.is((await admin.delete(`/keypairs/${keyId}`)).status, 204);
  t.is((await admin.get(`/keypairs/${keyId}`)).status, 404, 'the keypair itself is gone');

  const after = await admin.get(`/keypairs/${keyId}/audit`);
  t.is(after.status, 200);
  t.deepEqual(after.body.items.map((e: { action: string }) => e.action), ['keypair.removed', 'keypair.disabled', 'keypair.created']);
  t.deepEqual(after.body.items.slice(1), before.body.items, 'the events recorded before the removal are unchanged');
  for (const e of after.body.items) t.like(e, { keypairId: keyId, accountId: tenant.accountId, environmentId: tenant.productionId });
  // Pages as before.
  const first = await admin.get(`/keypairs/${keyId}/audit?limit=2`);
  t.is(first.body.items.length, 2);
  const rest = await admin.get(`/keypairs/${keyId}/audit?limit=2&cursor=${first.body.nextCursor}`);
  t.deepEqual(rest.body.items.map((e: { action: string }) => e.action), ['keypair.created']);

  // The environment's admin reads it too; the other environment's admin gets the 404 of a key that never existed.
  t.is((await (await ApiClient.signIn(tk.url, 'prod-admin@acme.test')).get(`/keypairs/${keyId}/audit`)).status, 200);
  const outsider = await ApiClient.signIn(tk.url, 'staging-admin@acme.test');
  const hidden = await outsider.get(`/keypairs/${keyId}/audit`);
  const unknown = await outsider.get('/keypairs/kp_AAAAAAAAAAAAAAAAAAAAAAAA/audit');
  t.is(hidden.status, 404);
  t.deepEqual(hidden.body, unknown.body);
  t.deepEqual(unknown.body, { error: { code: 'not_found', message: 'keypair not found', details: null } });

  // Automation of the account, with keyport:read.
  const reader = await tk.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'reader', scopes: ['keyport:read'] }, 'system');
  const api = ApiClient.withToken(tk.url, await getToken(tk.url, { keyId: reader.keypair.keyId, secret: reader.secret, resource: ADMIN_API_RESOURCE }));
  t.is((await api.get(`/keypairs/${keyId}/audit`)).body.items.length, 3);

  // Keypairs removed by closing their environment keep theirs as well.
  const closedWith = await admin.post(`/environments/${tenant.stagingId}/keypairs`, { name: 'closed with staging' });
  t.is((await admin.post(`/environments/${tenant.stagingId}/close`)).status, 200);
  const closedTrail = await admin.get(`/keypairs/${closedWith.body.keypair.keyId}/audit`);
  t.is(closedTrail.status, 200);
  t.deepEqual(closedTrail.body.items.map((e: { action: string }) => e.action), ['keypair.removed', 'keypair.created']);
});
