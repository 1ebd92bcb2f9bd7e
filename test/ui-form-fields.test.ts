// Web UI forms with many repeated fields, over HTTP as a browser without
// JavaScript posts them: a keypair created and edited with more than 20 scopes
// ticked keeps every one of them (the form parser's default turned more than 20
// repeated fields into an object, which read as no scope at all).
import anyTest, { type TestFn } from 'ava';
import { accountOwner, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { hiddenFields, textOf, UiClient } from './helpers/ui.ts';

const test = anyTest as TestFn<{ kp: TestKeyport; ui: UiClient; tenant: Awaited<ReturnType<typeof createTenant>> }>;

/** A catalog of 30 scopes, every one grantable to environment keypairs. */
const SCOPES = Array.from({ length: 30 }, (_, i) => `svc${String(i).padStart(2, '0')}:read`);

test.before(async (t) => {
  const kp = await startTestKeyport({ overrides: { scopes: SCOPES.map((name) => ({ name, description: `Read ${name}`, levels: ['account', 'environment'] })) } });
  const tenant = await createTenant(kp.keyport);
  await createUser(kp.keyport, 'admin@fields.test', [[accountOwner(tenant.accountId), 'admin']]);
  t.context = { kp, tenant, ui: await UiClient.signIn(kp.url, 'admin@fields.test') };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

test('a keypair created with 25 scopes ticked keeps every one', async (t) => {
  const { kp, ui, tenant } = t.context;
  const action = `/ui/environments/${tenant.productionId}/keypairs`;
  const newPage = await ui.get(`${action}/new`);
  t.is(newPage.status, 200);
  for (const scope of SCOPES) t.true(newPage.html.includes(`value="${scope}"`), `${scope} is offered`);
  const ticked = SCOPES.slice(0, 25);
  const created = await ui.post(action, { ...hiddenFields(newPage.html, action), name: 'many scopes', scopes: ticked });
  t.is(created.status, 200, created.html.slice(0, 500));
  t.deepEqual((await kp.keyport.domain.keypairs.get(textOf(created.html, 'key-id')!)).scopes, ticked);
});

test('a keypair edited to all 30 scopes keeps every one, and its page shows them all ticked', async (t) => {
  const { kp, ui, tenant } = t.context;
  const { keyId } = (await kp.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'edited', scopes: SCOPES.slice(0, 2) }, 'system')).keypair;
  const keyPath = `/ui/keypairs/${keyId}`;
  const edited = await ui.submit(keyPath, `${keyPath}/edit`, { name: 'edited', comment: '', scopes: SCOPES, expiresOn: '' });
  t.is(edited.status, 303, edited.html.slice(0, 500));
  t.deepEqual((await kp.keyport.domain.keypairs.get(keyId)).scopes, SCOPES);
  const page = await ui.get(keyPath);
  for (const scope of SCOPES) t.regex(page.html, new RegExp(`value="${scope}"[^>]*checked`), `${scope} is ticked`);
});
