// Member management in the web UI (the access page): an owner's admins add users
// by email, change roles and remove members; an account keeps its last admin;
// members see the list without the forms. Everything over HTTP against the real
// server and database, through the same domain rules as the admin API.
import anyTest, { type TestFn } from 'ava';
import { accountOwner, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { UiClient } from './helpers/ui.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

let n = 0;
const email = (who: string) => `${who}-${++n}@members.test`;

test('an account admin adds a user by email, changes the role, and removes the member; each step is audited', async (t) => {
  const { kp } = t.context;
  const tenant = await createTenant(kp.keyport);
  const owner = accountOwner(tenant.accountId);
  const adminEmail = email('admin');
  await createUser(kp.keyport, adminEmail, [[owner, 'admin']]);
  const bobEmail = email('bob');
  const bobId = await createUser(kp.keyport, bobEmail);
  const ui = await UiClient.signIn(kp.url, adminEmail);
  const access = `/ui/accounts/${tenant.accountId}/access`;
  const action = `/ui/accounts/${tenant.accountId}/members`;

  const added = await ui.submit(access, action, { email: bobEmail, role: 'member' });
  t.is(added.status, 303);
  t.is(await kp.keyport.domain.users.roleOn(bobId, owner), 'member');
  const page = await ui.get(access);
  t.true(page.html.includes(bobEmail));
  t.regex(page.html, new RegExp(`id="role-${bobId}"`), 'each member has a role selector');

  t.is((await ui.submit(access, action, { email: bobEmail, role: 'admin' })).status, 303);
  t.is(await kp.keyport.domain.users.roleOn(bobId, owner), 'admin');

  const removeAction = `/ui/accounts/${tenant.accountId}/members/${bobId}/remove`;
  const confirm = await ui.get(removeAction);
  t.is(confirm.status, 200);
  t.true(confirm.html.includes(`Remove ${bobEmail}`));
  t.is((await ui.submit(removeAction, removeAction)).status, 303);
  t.is(await kp.keyport.domain.users.roleOn(bobId, owner), null);

  const trail = await kp.keyport.domain.audit.page({ accountId: tenant.accountId }, { limit: 10 });
  const actions = trail.items.map((e) => e.action);
  t.deepEqual(actions.filter((a) => a.startsWith('membership.')).slice(0, 3), ['membership.revoked', 'membership.granted', 'membership.granted']);
});

test('an unknown email and the last admin of an account are refused on the page, and nothing changes', async (t) => {
  const { kp } = t.context;
  const tenant = await createTenant(kp.keyport);
  const owner = accountOwner(tenant.accountId);
  const adminEmail = email('solo');
  const adminId = await createUser(kp.keyport, adminEmail, [[owner, 'admin']]);
  const ui = await UiClient.signIn(kp.url, adminEmail);
  const access = `/ui/accounts/${tenant.accountId}/access`;
  const action = `/ui/accounts/${tenant.accountId}/members`;

  const unknown = await ui.submit(access, action, { email: 'nobody@members.test', role: 'member' });
  t.is(unknown.status, 400);
  t.true(unknown.html.includes('No user has the email nobody@members.test'));
  t.true(unknown.html.includes('value="nobody@members.test"'), 'the form keeps what was typed');

  const demote = await ui.submit(access, action, { email: adminEmail, role: 'member' });
  t.is(demote.status, 409);
  t.regex(demote.html, /keeps at least one admin/);
  t.is(await kp.keyport.domain.users.roleOn(adminId, owner), 'admin');

  const removeAction = `/ui/accounts/${tenant.accountId}/members/${adminId}/remove`;
  const remove = await ui.submit(removeAction, removeAction);
  t.is(remove.status, 409);
  t.regex(remove.html, /make another member an administrator first/);
  t.is(await kp.keyport.domain.users.roleOn(adminId, owner), 'admin');

  const badRole = await ui.submit(access, action, { email: adminEmail, role: 'owner' });
  t.is(badRole.status, 400);
  t.is(await kp.keyport.domain.users.roleOn(adminId, owner), 'admin');
});

test('members cannot manage members (the page and a forged post are refused); an environment admin manages only that environment', async (t) => {
  const { kp } = t.context;
  const tenant = await createTenant(kp.keyport);
  const memberEmail = email('member');
  await createUser(kp.keyport, memberEmail, [[accountOwner(tenant.accountId), 'member']]);
  const target = email('target');
  const targetId = await createUser(kp.keyport, target);

  const member = await UiClient.signIn(kp.url, memberEmail);
  const overview = await member.get(`/ui/accounts/${tenant.accountId}`);
  t.is(overview.status, 200);
  t.is((await member.get(`/ui/accounts/${tenant.accountId}/access`)).status, 403);
  // The member's own session and CSRF token, on a form they were never shown.
  const csrf = /name="_csrf" value="([^"]+)"/.exec(overview.html)?.[1] ?? '';
  t.not(csrf, '');
  const forged = await member.post(`/ui/accounts/${tenant.accountId}/members`, { _csrf: csrf, email: target, role: 'admin' });
  t.is(forged.status, 403);
  t.is(await kp.keyport.domain.users.roleOn(targetId, accountOwner(tenant.accountId)), null);

  const envAdminEmail = email('envadmin');
  await createUser(kp.keyport, envAdminEmail, [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  const envAdmin = await UiClient.signIn(kp.url, envAdminEmail);
  const envAction = `/ui/environments/${tenant.productionId}/members`;
  t.is((await envAdmin.submit(`/ui/environments/${tenant.productionId}/access`, envAction, { email: target, role: 'member' })).status, 303);
  t.is(await kp.keyport.domain.users.roleOn(targetId, environmentOwner(tenant.accountId, tenant.productionId)), 'member');
  const other = await envAdmin.post(`/ui/environments/${tenant.stagingId}/members`, { _csrf: csrf, email: target, role: 'member' });
  t.true(other.status === 403 || other.status === 404, `another environment is out of reach: ${other.status}`);
  t.is(await kp.keyport.domain.users.roleOn(targetId, environmentOwner(tenant.accountId, tenant.stagingId)), null);
});
