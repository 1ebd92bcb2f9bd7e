// Closing owners (docs/architecture.md, Closing an owner) through the API, and the crash-safe cascade:
// an owner left 'closing' is finished at the next start.
import test from 'ava';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken, introspect, tokenRequest } from './helpers/oauth.ts';

let tk: TestKeyport;

test.before(async () => {
  tk = await startTestKeyport();
  await createUser(tk.keyport, 'admin@acme.test');
});
test.after.always(async () => {
  await tk?.close();
});

async function tenantWithAdmin(name: string) {
  const tenant = await createTenant(tk.keyport, name);
  const userId = (await tk.keyport.domain.users.findByEmail('admin@acme.test'))!.id;
  await tk.keyport.domain.users.grant(userId, accountOwner(tenant.accountId), 'admin', 'system');
  const { keypairs } = tk.keyport.domain;
  const introspector = await keypairs.create({ accountId: tenant.accountId }, { name: 'rs', scopes: ['keyport:introspect'] }, 'system');
  const prodKey = await keypairs.create({ environmentId: tenant.productionId }, { name: 'prod' }, 'system');
  const stagingKey = await keypairs.create({ environmentId: tenant.stagingId }, { name: 'staging' }, 'system');
  return { ...tenant, introspector, prodKey, stagingKey };
}

test.serial('closing an environment removes its keypairs, stops their tokens, and is idempotent', async (t) => {
  const tenant = await tenantWithAdmin('EnvClose');
  const admin = await ApiClient.signIn(tk.url, 'admin@acme.test');
  const prodCreds = { keyId: tenant.prodKey.keypair.keyId, secret: tenant.prodKey.secret };
  const token = await getToken(tk.url, prodCreds);
  const rs = { keyId: tenant.introspector.keypair.keyId, secret: tenant.introspector.secret };
  t.true((await introspect(tk.url, rs, token)).active);

  const closed = await admin.post(`/environments/${tenant.productionId}/close`);
  t.is(closed.status, 200);
  t.like(closed.body, { id: tenant.productionId, status: 'closed' });
  t.deepEqual(await introspect(tk.url, rs, token), { active: false });
  t.is((await tokenRequest(tk.url, prodCreds)).status, 401);
  t.is((await admin.get(`/keypairs/${prodCreds.keyId}`)).status, 404);
  t.is((await admin.get(`/environments/${tenant.productionId}/keypairs`)).body.total, 0);

  // Idempotent; reads still work; changes are a conflict.
  const again = await admin.post(`/environments/${tenant.productionId}/close`);
  t.is(again.status, 200);
  t.is(again.body.status, 'closed');
  t.is((await admin.get(`/environments/${tenant.productionId}`)).body.status, 'closed');
  const create = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'late' });
  t.is(create.status, 409);
  t.is(create.body.error.code, 'conflict');
  t.is((await admin.patch(`/environments/${tenant.productionId}`, { name: 'renamed' })).status, 409);

  // The rest of the account is untouched.
  t.is((await tokenRequest(tk.url, { keyId: tenant.stagingKey.keypair.keyId, secret: tenant.stagingKey.secret })).status, 200);
  const audit = await admin.get(`/environments/${tenant.productionId}/audit?limit=200`);
  const actions = audit.body.items.map((e: { action: string }) => e.action);
  t.true(actions.includes('environment.closing'));
  t.true(actions.includes('environment.closed'));
  t.true(actions.includes('keypair.removed'));
});

test.serial('closing an account closes its environments and removes every keypair', async (t) => {
  const tenant = await tenantWithAdmin('AccountClose');
  const admin = await ApiClient.signIn(tk.url, 'admin@acme.test');
  const closed = await admin.post(`/accounts/${tenant.accountId}/close`);
  t.is(closed.status, 200);
  t.is(closed.body.status, 'closed');
  const envs = await admin.get(`/accounts/${tenant.accountId}/environments`);
  t.deepEqual(envs.body.items.map((e: { status: string }) => e.status), ['closed', 'closed']);
  t.is(await tk.keyport.database.models.Keypair.countDocuments({ accountId: tenant.accountId }), 0);
  t.is((await admin.post(`/accounts/${tenant.accountId}/close`)).status, 200);
  t.is((await admin.post(`/accounts/${tenant.accountId}/environments`, { name: 'new' })).status, 409);
});

test.serial('a cascade interrupted half-way is finished at the next start', async (t) => {
  const tenant = await tenantWithAdmin('Interrupted');
  const { database, domain } = tk.keyport;
  const stagingCreds = { keyId: tenant.stagingKey.keypair.keyId, secret: tenant.stagingKey.secret };
  // What a crash during closeAccount leaves behind: the account marked closing
  // (the first step), one environment marked closing, some keypairs removed.
  await database.models.Account.updateOne({ _id: tenant.accountId }, { $set: { status: 'closing', closingAt: new Date() } });
  await database.models.Environment.updateOne({ _id: tenant.productionId }, { $set: { status: 'closing', closingAt: new Date() } });
  await domain.keypairs.remove(tenant.prodKey.keypair.keyId, 'system');

  // From 'closing' on, the remaining keypairs get no tokens and their tokens are inactive.
  t.is((await tokenRequest(tk.url, stagingCreds)).status, 401);
  const rs = { keyId: tenant.introspector.keypair.keyId, secret: tenant.introspector.secret };
  t.is((await tokenRequest(tk.url, rs)).status, 401);
  t.is(await database.models.Keypair.countDocuments({ accountId: tenant.accountId }), 2);

  await tk.restart();

  const after = tk.keyport.database.models;
  t.is((await after.Account.findById(tenant.accountId).lean())!.status, 'closed');
  t.deepEqual((await after.Environment.find({ accountId: tenant.accountId }).lean()).map((e) => e.status).sort(), ['closed', 'closed']);
  t.is(await after.Keypair.countDocuments({ accountId: tenant.accountId }), 0);
  const audit = (await tk.keyport.domain.audit.page({ accountId: tenant.accountId }, { limit: 200 })).items;
  t.true(audit.some((e) => e.action === 'account.closed' && e.actor === 'system'));
  t.false(audit.some((e) => e.action === 'account.closing'), 'the closing mark was made by the "crash", not by the cascade');
  // And the API shows the end state.
  const admin = await ApiClient.signIn(tk.url, 'admin@acme.test');
  t.is((await admin.get(`/accounts/${tenant.accountId}`)).body.status, 'closed');
});

test.serial('an environment left closing on its own is finished at the next start too', async (t) => {
  const tenant = await tenantWithAdmin('EnvInterrupted');
  await tk.keyport.database.models.Environment.updateOne({ _id: tenant.stagingId }, { $set: { status: 'closing', closingAt: new Date() } });
  await tk.restart();
  const models = tk.keyport.database.models;
  t.is((await models.Environment.findById(tenant.stagingId).lean())!.status, 'closed');
  t.is((await models.Environment.findById(tenant.productionId).lean())!.status, 'active');
  t.is((await models.Account.findById(tenant.accountId).lean())!.status, 'active');
  t.is(await models.Keypair.countDocuments({ environmentId: tenant.stagingId }), 0);
  t.is(await models.Keypair.countDocuments({ environmentId: tenant.productionId }), 1);
});
